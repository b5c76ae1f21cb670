"""A Python stand-in for the feed's publisher (a C or C++ one does the same):
TICKS ticks, one uint8 frame every TICKS_PER_FRAME ticks, then the end message.

    python3 publisher.py NAME [TICKS] [TICKS_PER_FRAME]
"""
import sys
import time

import numpy as np

import zipc
from feed import FRAME_SHAPE, SUBSCRIBERS, TICK, TICK_TYPE_ID, frame_pattern


def main():
    name = sys.argv[1]
    ticks = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    per_frame = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    base = frame_pattern(0)
    with zipc.Topic.create(name, 1 << 21) as pub:
        deadline = time.monotonic() + 30
        while pub.subscribers() < SUBSCRIBERS:
            if time.monotonic() > deadline:
                sys.exit(f"publisher: {pub.subscribers()} of {SUBSCRIBERS} subscribers after 30 s")
            time.sleep(0.01)
        frames = 0
        t0 = time.perf_counter()
        for i in range(ticks):
            pub.send(TICK.pack(i, time.time_ns(), 100.0 + (i % 1000) * 0.25, 1.0 + (i & 7), i & 1), TICK_TYPE_ID)
            if i % per_frame == per_frame - 1:
                with pub.reserve_tensor(FRAME_SHAPE, np.uint8) as r:  # written in place in the ring
                    np.add(base, frames % 256, out=r.array, dtype=np.uint8, casting="unsafe")
                frames += 1
        pub.send_object({"ticks": ticks, "frames": frames})
        secs = time.perf_counter() - t0
    print(f"publisher (Python): {ticks} ticks and {frames} frames of uint8{list(FRAME_SHAPE)} in {secs:.3f} s",
          flush=True)


if __name__ == "__main__":
    main()
