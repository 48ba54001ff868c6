"""For the flow's tests only: BullMQ's own (Python) worker in a process of its own, on queue argv[2] of the
Redis at argv[1], answering each job as its data's `behave` says. The tests kill it when done (closing
a BullMQ worker in-process now and then hangs)."""

import asyncio
import sys

from bullmq import Worker

from redis_names import redis_value

PERMANENT_MARK = redis_value("permanentMark")


async def answer(job, token):
    behave = job.data.get("behave")
    if behave == "slow":
        await asyncio.sleep(0.3)
    if behave == "fail":
        raise RuntimeError("503 busy")
    if behave == "fail-permanently":
        raise RuntimeError(f"{PERMANENT_MARK} 401 bad key")
    if behave == "fail-silently":
        raise RuntimeError("")
    return {"done": job.id}


async def main() -> None:
    Worker(sys.argv[2], answer, {"connection": sys.argv[1], "prefix": "test"})
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
