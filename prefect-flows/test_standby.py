"""A standby flow run's wait for its stage, against a real redis-server (started here on a free port)."""

import asyncio
import json
import socket
import unittest

from redis.asyncio import Redis

import run_stage
from redis_server_fixture import RedisServer


class WaitForStage(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    async def asyncSetUp(self):
        self.redis = Redis(port=self.port)
        self.saved_seconds = run_stage.STANDBY_SECONDS

    async def asyncTearDown(self):
        run_stage.STANDBY_SECONDS = self.saved_seconds
        await self.redis.aclose()

    async def give(self, flow_run_id: str, value: dict) -> bool:
        """What the gateway does (api/runs/standbyFlowRuns.ts): SET NX, then ring."""
        won = await self.redis.set(run_stage.standby_key(flow_run_id), json.dumps(value), nx=True)
        if won:
            await self.redis.rpush(run_stage.standby_bell_key(flow_run_id), "1")
        return bool(won)

    async def test_takes_the_stage_it_is_given_while_it_waits(self):
        waiting = asyncio.create_task(run_stage.wait_for_stage(self.redis, "fr-given"))
        await asyncio.sleep(0.2)
        self.assertTrue(await self.give("fr-given", {"stageId": "title", "attempt": 1, "steps": []}))
        self.assertEqual(await asyncio.wait_for(waiting, 5), {"stageId": "title", "attempt": 1, "steps": []})

    async def test_ends_unused_when_dismissed(self):
        waiting = asyncio.create_task(run_stage.wait_for_stage(self.redis, "fr-dismissed"))
        self.assertTrue(await self.give("fr-dismissed", {"dismissed": True}))
        self.assertIsNone(await asyncio.wait_for(waiting, 5))

    async def test_gives_up_after_its_time_and_then_cannot_be_given_a_stage(self):
        run_stage.STANDBY_SECONDS = 0.3
        self.assertIsNone(await asyncio.wait_for(run_stage.wait_for_stage(self.redis, "fr-expired"), 5))
        self.assertFalse(await self.give("fr-expired", {"stageId": "title", "attempt": 1, "steps": []}))

    async def test_ends_after_its_time_when_redis_stays_out_of_reach(self):
        # Its stack stopped (Redis with it): the run would otherwise wait for ever, an orphan process.
        run_stage.STANDBY_SECONDS = 0.2
        saved_grace, run_stage.STANDBY_NO_REDIS_SECONDS = run_stage.STANDBY_NO_REDIS_SECONDS, 0.5
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        gone = Redis(port=port)
        try:
            self.assertIsNone(await asyncio.wait_for(run_stage.wait_for_stage(gone, "fr-no-redis"), 10))
        finally:
            run_stage.STANDBY_NO_REDIS_SECONDS = saved_grace
            await gone.aclose()

    async def test_a_waiting_run_told_to_stop_cannot_be_given_a_stage(self):
        waiting = asyncio.create_task(run_stage.wait_for_stage(self.redis, "fr-stopped"))
        await asyncio.sleep(0.2)
        run_stage.give_up_now(self.redis, "fr-stopped")  # what its SIGTERM handler runs (termination.py)
        self.assertFalse(await self.give("fr-stopped", {"stageId": "title", "attempt": 1, "steps": []}))
        self.assertIsNone(await asyncio.wait_for(waiting, 5))

    async def test_ends_when_cancelled_though_redis_swallowed_the_cancel(self):
        class SwallowingRedis(Redis):
            async def blpop(self, keys, timeout=0):
                try:
                    return await super().blpop(keys, timeout=timeout)
                except asyncio.CancelledError:
                    return None  # what redis-py now and then does with a cancel inside a command

        run_stage.STANDBY_SECONDS = 2  # so that a wait that missed its cancel still ends, and the test fails
        redis = SwallowingRedis(port=self.port)
        try:
            waiting = asyncio.create_task(run_stage.wait_for_stage(redis, "fr-cancelled"))
            await asyncio.sleep(0.2)  # inside its BLPOP
            waiting.cancel()
            await asyncio.wait({waiting}, timeout=5)
            self.assertTrue(waiting.cancelled(), "the wait went on after its cancel")
        finally:
            await redis.aclose()


if __name__ == "__main__":
    unittest.main()
