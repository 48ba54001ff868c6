"""A short-lived memo for the warm worker's reads of its deployment and flow.

Prefect 2's worker reads the flow run's deployment twice (its storage check, then the job configuration)
and its flow once, for every flow run it submits. A book starts seven flow runs of the same deployment
within seconds, so these reads were ~20 of the ~345 requests a book cost the one Prefect server. Reads
are kept for a few seconds: an edited deployment reaches the next flow run after at most that long.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Awaitable, Callable, Hashable


class ReadCache:
    """Wraps an async read: the same arguments within `ttl_seconds` get a copy of the first answer (the
    worker updates the deployment's job variables in place). Failures are not kept."""

    def __init__(self, read: Callable[..., Awaitable[Any]], ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, Any]] = {}

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = (args, tuple(sorted(kwargs.items())))
        now = self._clock()
        kept = self._kept.get(key)
        if kept and now - kept[0] < self._ttl:
            return copy.deepcopy(kept[1])
        value = await self._read(*args, **kwargs)
        self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self._ttl}  # only the reads of one window
        self._kept[key] = (now, value)
        return copy.deepcopy(value)
