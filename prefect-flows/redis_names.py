"""The Redis keys and channels this side shares with the TypeScript gateway and agent workers.

Declared once, in config/redis-names.json, which api/config/redisNames.ts reads too.
"""

from __future__ import annotations

import json
from typing import Any
from pathlib import Path

_NAMES: dict[str, Any] = json.loads((Path(__file__).resolve().parent.parent / "config" / "redis-names.json").read_text())


def redis_name(name: str, **values: object) -> str:
    """The named key or channel with its `{...}` parts filled in; KeyError when the name or a part is unknown."""
    if name in ("values", "$comment"):
        raise KeyError(name)
    return str(_NAMES[name]).format(**values)


def redis_value(name: str) -> str:
    """A value both sides write or compare (the file's "values"); KeyError when unknown."""
    return str(_NAMES["values"][name])
