"""Python client of the C++ worker pool (examples/rpc_worker.cpp): 1000
concurrent asyncio calls with NumPy float32 payloads, every reply checked.

    examples/build_native.sh build/examples/rpc_worker examples/rpc_worker.cpp
    build/examples/rpc_worker tensors 2 &            # the pool: 2 C++ worker processes
    python3 examples/rpc_client.py tensors [CALLS]   # 1000 calls by default
    kill %1                                          # SIGTERM: the pool leaves cleanly

Every call sends its own float32 array (its shape and values depend on the
call's number) to method 1 (DOUBLE) with ``RpcClient.call_async``; all of
them are awaited at once on one client (calls beyond what the client's lane
holds wait in asyncio for room, not in a thread). A C++ worker reads the
array in place and writes it doubled into the reply room of the call's
frame; the reply comes back as an ndarray. Each reply is checked against
its own call's array times 2: a reply matched to the wrong call, a wrong
shape, dtype or value fails the run (exit status 1).
"""
from __future__ import annotations

import asyncio
import sys
import time

import numpy as np

import zipc

DOUBLE = 1  # rpc_worker.cpp's method
TENSOR_HEADER = 176  # a tensor payload's header (ZIPC_TENSOR_DATA_OFFSET, zipc/tensor.h), then its data


def request(i: int) -> np.ndarray:
    """Call i's array: 1..4 rows of 64 float32, values unique to the call."""
    rows = 1 + i % 4
    return (np.arange(rows * 64, dtype=np.float32).reshape(rows, 64) * 0.25 + i).astype(np.float32)


def check(i: int, x: np.ndarray, y) -> None:
    """Raise if y is not call i's array x doubled."""
    if not isinstance(y, np.ndarray) or y.dtype != np.float32 or y.shape != x.shape:
        raise RuntimeError(f"call {i}: expected float32{x.shape}, got {type(y).__name__} "
                           f"{getattr(y, 'dtype', '')}{getattr(y, 'shape', '')}")
    if not np.array_equal(y, x * 2):
        bad = int(np.flatnonzero(y.ravel() != (x * 2).ravel())[0])
        raise RuntimeError(f"call {i}: element {bad} is {y.ravel()[bad]}, expected {x.ravel()[bad] * 2}")


async def run(client: zipc.RpcClient, calls: int = 1000, timeout: float = 60.0) -> int:
    """Issue `calls` concurrent calls on `client`, check every reply; the
    number checked (== calls), or an exception (the first failure)."""
    arrays = [request(i) for i in range(calls)]
    replies = await asyncio.gather(*(
        client.call_async(x, DOUBLE, timeout=timeout, reply_capacity=TENSOR_HEADER + x.nbytes) for x in arrays))
    for i, (x, y) in enumerate(zip(arrays, replies)):
        check(i, x, y)
    return len(replies)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    name, calls = argv[1], int(argv[2]) if len(argv) == 3 else 1000
    with zipc.RpcClient.connect(name, timeout=10) as client:
        t0 = time.perf_counter()
        try:
            checked = asyncio.run(run(client, calls))
        except (zipc.Error, RuntimeError) as e:
            print(f"rpc_client: {e}", file=sys.stderr)
            return 1
        s = time.perf_counter() - t0
    print(f"rpc_client (Python): {checked} concurrent calls of float32 arrays to {name}, every reply "
          f"checked, in {s:.3f} s: {checked / s:.0f} calls/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
