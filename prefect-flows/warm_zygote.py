"""Fork server of the warm process worker (warm_worker.py).

A flow process started the usual way (`python -m prefect.engine`) spends ~2 s starting Python and
importing Prefect before its first task. This process pays that once: it imports Prefect's engine and
the run-stage flow's libraries, then forks one child per flow run; the child runs exactly what
`python -m prefect.engine` runs, with the flow run's environment. It stays single-threaded and never
talks to the Prefect API itself, so forking it is safe.

Protocol, one JSON object per line. The worker writes {"env": {...}, "cwd": "..."}; this process answers
{"spawned": pid} (in the order of the requests) and later {"exited": pid, "code": n}, where a negative
code is the signal that ended the child, as in subprocess. It writes {"ready": true} once warm, and exits
when its input closes. It ignores SIGTERM: it lives as long as its worker, which ends the flow processes it
started when it is told to stop (process_shutdown.py), and needs this process to report their ends.
"""

from __future__ import annotations

import json
import os
import runpy
import selectors
import signal
import sys
import threading
import traceback


def preload() -> None:
    """What every flow process would import on its own: Prefect's engine and the flow's libraries."""
    import bullmq  # noqa: F401
    import prefect.deployments.steps.core  # noqa: F401
    import prefect.engine  # noqa: F401
    import redis.asyncio  # noqa: F401


def run_flow_child(request: dict, protocol: tuple[int, ...]) -> None:
    """In the forked child: become `python -m prefect.engine` for the flow run in request['env']."""
    code = 1
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the fork server's "ignore" is not the flow's
    try:
        for fd in protocol:
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(2, 1)  # the protocol owns this process's stdout; the child's output joins the worker's stderr
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import prefect.context
        import termination

        termination.install()  # the flow's last words on SIGTERM (termination.py)
        # Prefect reads its settings from the environment once, at import: read them again for this run.
        prefect.context.GLOBAL_SETTINGS_CONTEXT = prefect.context.root_settings_context()
        sys.argv = [sys.argv[0]]
        runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        drain_prefect_services()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def drain_prefect_services() -> None:
    """What a stock `python -m prefect.engine` does at interpreter exit, which os._exit skips: sends the logs
    and events still queued to the API (a suspended flow run's last lines before its process exits, say)."""
    try:
        from prefect._internal.concurrency.services import QueueService

        QueueService.drain_all(timeout=5)
    except Exception:
        traceback.print_exc()


def reap(out) -> None:
    """Reports every child that has ended since the last call."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send(out, {"exited": pid, "code": os.waitstatus_to_exitcode(status)})


def send(out, message: dict) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def serve() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    preload()
    if threading.active_count() != 1:
        raise RuntimeError("warm zygote: importing started a thread; forking would not be safe")
    protocol_in, protocol_out = sys.stdin.fileno(), sys.stdout.fileno()
    out = os.fdopen(os.dup(protocol_out), "w")
    send(out, {"ready": True})
    selector = selectors.DefaultSelector()
    selector.register(protocol_in, selectors.EVENT_READ)
    buffer = b""
    while True:
        if selector.select(timeout=0.05):
            chunk = os.read(protocol_in, 65536)
            if not chunk:
                return  # the worker has gone: children keep running and finish their flow runs
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    run_flow_child(request, (protocol_in, protocol_out, out.fileno()))
                send(out, {"spawned": pid})
        reap(out)


if __name__ == "__main__":
    serve()
