"""Last words of a flow process told to stop (SIGTERM), as a stack stopping or restarting its worker does.

Prefect's engine handles SIGTERM in the main thread (`capture_sigterm`): it unwinds, puts back the
handler it found, and sends the signal again. The flow's own code runs in another thread and never
gets to clean up. So the process's main thread installs a handler here before the engine starts
(warm_zygote.py does, for every flow process it forks); the flow registers what must be said before
the process dies, e.g. a waiting standby that will never take its stage. The callbacks must be quick:
the stack sends SIGKILL a few seconds later.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Callable, Iterator

_callbacks: dict[int, Callable[[], None]] = {}


def install() -> None:
    """In the main thread, before the engine runs: on SIGTERM, run the callbacks, then die of the signal."""

    def on_sigterm(signum: int, _frame: object) -> None:
        for callback in list(_callbacks.values()):
            with contextlib.suppress(Exception):
                callback()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_sigterm)


@contextlib.contextmanager
def on_termination(callback: Callable[[], None]) -> Iterator[None]:
    """Runs `callback` if the process is told to stop while the block runs (from any thread). A block
    left by an exception keeps it: on SIGTERM Prefect cancels the flow's code before this process's
    handler runs, so a cancelled block is what a stopping process looks like."""
    key = id(callback)
    _callbacks[key] = callback
    yield
    _callbacks.pop(key, None)
