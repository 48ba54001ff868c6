"""The settings the Python side shares with the gateway and agent workers (api/config/settings.ts): the
same variables with the same defaults, read in one place, so the two sides name Redis and time leases
alike."""

from __future__ import annotations

import os


def redis_url() -> str:
    """QUIRE_REDIS_URL, else the launcher's Redis on QUIRE_REDIS_PORT (as the gateway reads them)."""
    return os.environ.get("QUIRE_REDIS_URL") or f"redis://127.0.0.1:{os.environ.get('QUIRE_REDIS_PORT', '6380')}"


def queue_prefix() -> str:
    """The prefix of every Redis name (config/redis-names.json)."""
    return os.environ.get("QUIRE_QUEUE_PREFIX", "quire")


def flow_lease_seconds() -> int:
    """How long a flow process's lease lives; the gateway marks a flow run whose lease lapsed Crashed."""
    return int(float(os.environ.get("QUIRE_FLOW_LEASE_SECONDS", "15")))


def flow_heartbeat_seconds() -> float:
    """How often the lease is renewed: a fifth of the lease unless set, so it never lapses between renewals."""
    value = os.environ.get("QUIRE_FLOW_HEARTBEAT_SECONDS")
    return float(value) if value else flow_lease_seconds() / 5
