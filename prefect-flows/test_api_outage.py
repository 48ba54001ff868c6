"""Riding out a Prefect API outage: the retry logic alone (the e2e fault test restarts a real server)."""

import asyncio
import unittest

import httpx

from api_outage import lost_the_api, run_riding_outages, wait_for_api


def refused() -> httpx.ConnectError:
    return httpx.ConnectError("All connection attempts failed")


class Script:
    """A call that fails with the given errors, one per call, then returns 'done'."""

    def __init__(self, *errors: BaseException):
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def api_back(_exc: BaseException) -> bool:
    return True


async def api_gone(_exc: BaseException) -> bool:
    return False


class LostTheApi(unittest.TestCase):
    def test_transport_failures_are_outages(self):
        self.assertTrue(lost_the_api(refused()))
        self.assertTrue(lost_the_api(httpx.ReadError("reset")))

    def test_answers_and_other_errors_are_not(self):
        response = httpx.Response(500, request=httpx.Request("GET", "http://x"))
        self.assertFalse(lost_the_api(httpx.HTTPStatusError("500", request=response.request, response=response)))
        self.assertFalse(lost_the_api(RuntimeError("step failed")))


class RunRidingOutages(unittest.TestCase):
    def test_calls_again_once_the_api_is_back(self):
        call = Script(refused(), refused())
        self.assertEqual(asyncio.run(run_riding_outages(call, api_back)), "done")
        self.assertEqual(call.calls, 3)

    def test_raises_when_the_api_does_not_come_back(self):
        call = Script(refused())
        with self.assertRaises(httpx.ConnectError):
            asyncio.run(run_riding_outages(call, api_gone))
        self.assertEqual(call.calls, 1)

    def test_other_errors_are_not_retried(self):
        call = Script(RuntimeError("the step failed"))
        with self.assertRaises(RuntimeError):
            asyncio.run(run_riding_outages(call, api_back))
        self.assertEqual(call.calls, 1)

    def test_gives_up_after_too_many_outages(self):
        call = Script(*[refused() for _ in range(4)])
        with self.assertRaises(httpx.ConnectError):
            asyncio.run(run_riding_outages(call, api_back, max_outages=3))
        self.assertEqual(call.calls, 4)


class WaitForApi(unittest.TestCase):
    def test_returns_when_the_api_answers(self):
        answers = iter([False, False, True])

        async def healthy() -> bool:
            return next(answers)

        self.assertTrue(asyncio.run(wait_for_api(healthy, timeout_seconds=5, every_seconds=0.01)))

    def test_gives_up_at_the_deadline(self):
        async def never() -> bool:
            return False

        self.assertFalse(asyncio.run(wait_for_api(never, timeout_seconds=0.05, every_seconds=0.01)))


if __name__ == "__main__":
    unittest.main()
