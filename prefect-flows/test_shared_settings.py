import os
import unittest
from unittest import mock

from shared_settings import flow_heartbeat_seconds, flow_lease_seconds, queue_prefix, redis_url

QUIRE_VARS = ("QUIRE_REDIS_URL", "QUIRE_REDIS_PORT", "QUIRE_QUEUE_PREFIX", "QUIRE_FLOW_LEASE_SECONDS", "QUIRE_FLOW_HEARTBEAT_SECONDS")


def environment(**values: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in QUIRE_VARS}
    return {**env, **values}


class SharedSettingsTest(unittest.TestCase):
    def test_defaults_match_the_gateway(self):
        with mock.patch.dict(os.environ, environment(), clear=True):
            self.assertEqual(redis_url(), "redis://127.0.0.1:6380")
            self.assertEqual(queue_prefix(), "quire")
            self.assertEqual(flow_lease_seconds(), 15)
            self.assertEqual(flow_heartbeat_seconds(), 3)

    def test_redis_falls_back_to_the_port_as_the_gateway_does(self):
        with mock.patch.dict(os.environ, environment(QUIRE_REDIS_PORT="7001", QUIRE_REDIS_URL=""), clear=True):
            self.assertEqual(redis_url(), "redis://127.0.0.1:7001")
        with mock.patch.dict(os.environ, environment(QUIRE_REDIS_PORT="7001", QUIRE_REDIS_URL="redis://db:6379"), clear=True):
            self.assertEqual(redis_url(), "redis://db:6379")

    def test_the_heartbeat_follows_a_short_lease(self):
        with mock.patch.dict(os.environ, environment(QUIRE_FLOW_LEASE_SECONDS="2.0"), clear=True):
            self.assertEqual(flow_lease_seconds(), 2)
            self.assertLess(flow_heartbeat_seconds(), flow_lease_seconds())
        with mock.patch.dict(os.environ, environment(QUIRE_FLOW_HEARTBEAT_SECONDS="1.5"), clear=True):
            self.assertEqual(flow_heartbeat_seconds(), 1.5)


if __name__ == "__main__":
    unittest.main()
