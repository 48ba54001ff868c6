"""The warm worker's short-lived memo of deployment and flow reads."""

import unittest

from read_cache import ReadCache


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class ReadCacheTest(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.calls = []
        self.clock = Clock()

        async def read(ident, **kwargs):
            self.calls.append((ident, kwargs))
            if ident == "missing":
                raise LookupError(ident)
            return {"id": ident, "job_variables": {"env": {"A": "1"}}, "call": len(self.calls)}

        self.cache = ReadCache(read, ttl_seconds=5, clock=self.clock)

    async def test_the_same_read_within_the_window_is_answered_from_memory(self):
        first = await self.cache("d1")
        self.clock.now += 4.9
        again = await self.cache("d1")
        self.assertEqual(again, first)
        self.assertEqual(len(self.calls), 1)

    async def test_after_the_window_the_read_goes_to_the_server_again(self):
        await self.cache("d1")
        self.clock.now += 5
        self.assertEqual((await self.cache("d1"))["call"], 2)

    async def test_different_arguments_are_different_reads(self):
        await self.cache("d1")
        await self.cache("d2")
        await self.cache("d1", timeout=3)
        self.assertEqual([c[0] for c in self.calls], ["d1", "d2", "d1"])

    async def test_a_caller_that_changes_its_answer_in_place_does_not_change_the_next_callers(self):
        first = await self.cache("d1")
        first["job_variables"]["env"]["A"] = "changed by one flow run"
        self.assertEqual((await self.cache("d1"))["job_variables"]["env"]["A"], "1")

    async def test_a_failed_read_is_not_kept(self):
        with self.assertRaises(LookupError):
            await self.cache("missing")
        with self.assertRaises(LookupError):
            await self.cache("missing")
        self.assertEqual(len(self.calls), 2)


if __name__ == "__main__":
    unittest.main()
