"""asyncio support: try without blocking; on Timeout wait for the channel's fd.

The channel's fd is created before the first try, so every try that would
block arms it (include/zipc/channel.h); the event loop then wakes us through
loop.add_reader. No thread per channel, no polling.
"""
from __future__ import annotations

import asyncio
import errno

from ._zipc import Timeout


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    fut = loop.create_future()
    loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def retry(channel, attempt, timeout: float | None):
    """Run attempt() (a timeout=0 call) until it stops raising Timeout."""
    loop = asyncio.get_running_loop()
    fd = channel.fileno()
    lock = channel.__dict__.setdefault("_aio_lock", asyncio.Lock())  # one add_reader per fd
    deadline = None if timeout is None else loop.time() + timeout
    async with lock:
        while True:
            try:
                return attempt()
            except Timeout:
                pass
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise Timeout(errno.ETIMEDOUT, "timed out")
            try:
                await asyncio.wait_for(_readable(loop, fd), left)
            except asyncio.TimeoutError:
                raise Timeout(errno.ETIMEDOUT, "timed out") from None
