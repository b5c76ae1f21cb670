"""Rust -> Python: receive float32 tensors with ch.recv_tensor() (zero-copy
NumPy views into the ring) and check every value.

    python3 consumer.py SOCKET COUNT ROWS COLS
"""
import sys
import time

import numpy as np

import zipc


def main():
    path, count, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    base = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols) * np.float32(0.5)
    got = 0
    with zipc.Channel.listen(path, 1 << 23, timeout=60) as ch:
        t0 = None
        while True:
            try:
                a = ch.recv_tensor(timeout=10)  # a view into the ring, released when `a` goes
            except zipc.PeerGone:
                break
            if t0 is None:
                t0 = time.perf_counter()
            if a.dtype != np.float32 or a.shape != (rows, cols):
                sys.exit(f"tensor {got}: dtype {a.dtype}, shape {a.shape}")
            if not np.array_equal(a, base + np.float32(got % 1024)):
                sys.exit(f"tensor {got}: wrong values (first {a.flat[0]})")
            del a
            got += 1
        secs = time.perf_counter() - t0 if t0 else 0.0
    if got != count:
        sys.exit(f"expected {count} tensors, got {got}")
    gb = got * rows * cols * 4 / 1e9
    print(f"python consumer: {got} float32 tensors {rows}x{cols} received zero-copy, values ok, "
          f"in {secs:.3f} s: {got / secs:.0f} msgs/s, {gb / secs:.2f} GB/s")


if __name__ == "__main__":
    main()
