"""A flow process's lease, against a real redis-server (started here on a free port)."""

import asyncio
import unittest

from redis.asyncio import Redis

from flow_lease import LEASE_ENDED, LEASE_STOPPED, FlowLease, lease_key, sync_twin
from redis_server_fixture import RedisServer


class FlowLeaseTest(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    async def asyncSetUp(self):
        self.redis = Redis(port=self.server.port)

    async def asyncTearDown(self):
        await self.redis.aclose()

    async def test_renews_while_held_and_reads_ended_once_the_block_ends(self):
        async with FlowLease(self.redis, "fr-held", lease_seconds=1, heartbeat_seconds=0.1, prefix="t"):
            self.assertEqual(await self.redis.get(lease_key("fr-held", "t")), b"1", "not held from the block's first line")
            await asyncio.sleep(1.5)  # longer than the lease: only renewals keep it
            self.assertEqual(await self.redis.get(lease_key("fr-held", "t")), b"1")
        self.assertEqual(await self.redis.get(lease_key("fr-held", "t")), LEASE_ENDED.encode())
        await asyncio.sleep(0.3)
        self.assertEqual(await self.redis.get(lease_key("fr-held", "t")), LEASE_ENDED.encode(), "a renewal landed after the release")
        self.assertLessEqual(await self.redis.ttl(lease_key("fr-held", "t")), 1)

    async def test_ends_even_when_it_stops_in_the_middle_of_a_renewal(self):
        # A renewal stopped by cancelling its task went on for ever when the cancel landed inside redis-py's
        # SET (it swallows it at some loop turns): the flow never ended, and its lease never lapsed.
        for turns in range(30):
            key = f"fr-turns-{turns}"

            async def hold_briefly():
                async with FlowLease(self.redis, key, lease_seconds=5, heartbeat_seconds=0, prefix="t"):
                    for _ in range(turns):
                        await asyncio.sleep(0)

            holder = asyncio.create_task(hold_briefly())
            done, _ = await asyncio.wait({holder}, timeout=3)
            self.assertTrue(done, f"the lease did not stop when asked {turns} loop turns in")
            await asyncio.sleep(0.02)
            self.assertEqual(await self.redis.get(lease_key(key, "t")), LEASE_ENDED.encode(), f"renewed after its release ({turns} turns)")

    async def test_an_end_after_the_process_said_it_was_stopped_keeps_stopped(self):
        async with FlowLease(self.redis, "fr-stopped", lease_seconds=5, heartbeat_seconds=0.1, prefix="t") as lease:
            lease._say_stopped()  # what its SIGTERM handler runs (termination.py), landing before the block ends
        self.assertEqual(await self.redis.get(lease_key("fr-stopped", "t")), LEASE_STOPPED.encode())


class SyncTwinTest(unittest.TestCase):
    """The sync client for last words reaches the same server as the flow's own, whatever the URL's kind."""

    def twin_of(self, url: str) -> dict:
        twin = sync_twin(Redis.from_url(url))
        pool = twin.connection_pool
        return {"class": pool.connection_class.__name__, **{k: v for k, v in pool.connection_kwargs.items() if k in ("host", "port", "db", "username", "password", "path") and v is not None}}

    def test_tcp_with_credentials_and_db(self):
        self.assertEqual(self.twin_of("redis://u:p@h:6390/2"), {"class": "Connection", "host": "h", "port": 6390, "db": 2, "username": "u", "password": "p"})

    def test_tls(self):
        self.assertEqual(self.twin_of("rediss://h:6390/0")["class"], "SSLConnection")

    def test_unix_socket(self):
        self.assertEqual(self.twin_of("unix:///tmp/quire-redis.sock?db=3"), {"class": "UnixDomainSocketConnection", "path": "/tmp/quire-redis.sock", "db": 3})


if __name__ == "__main__":
    unittest.main()
