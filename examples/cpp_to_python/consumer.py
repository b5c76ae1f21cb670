"""Python consumer: listens at PATH and receives the C++ producer's float32[256]
frames as zero-copy NumPy arrays (recv_tensors) until the producer closes
(zipc.PeerGone). Checks every frame; prints the count and the rate.

    python3 consumer.py PATH
"""
import sys
import time

import numpy as np

import zipc

FLOATS = 256


def main(path: str) -> int:
    count, t0 = 0, None
    with zipc.Channel.listen(path, 1 << 21, timeout=20) as ch:
        try:
            while True:
                arrays = ch.recv_tensors(256, timeout=10)  # views into the ring, no copy
                if t0 is None:
                    t0 = time.perf_counter()
                for a in arrays:
                    if a.dtype != np.float32 or a.shape != (FLOATS,) or a[0] != count or a[-1] != count + FLOATS - 1:
                        print(f"consumer: frame {count} is wrong: {a.dtype} {a.shape} {a[:2]}...", file=sys.stderr)
                        return 1
                    count += 1
                del arrays, a  # give the slots back
        except zipc.PeerGone:
            pass
    if count == 0:
        print("consumer: no frame received", file=sys.stderr)
        return 1
    s = time.perf_counter() - t0
    print(f"consumer (Python): received {count} frames of float32[{FLOATS}] in {s:.3f} s: "
          f"{count / s:.0f} frames/s, {count * FLOATS * 4 / s / 1e6:.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
