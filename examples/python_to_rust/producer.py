"""Python -> Rust: send COUNT 32-byte ticks packed with struct.Struct("<QqdfI").

    python3 producer.py SOCKET COUNT
"""
import struct
import sys
import time

import zipc

TICK = struct.Struct("<QqdfI")  # seq u64, ts_ns i64, price f64, qty f32, side u32 = 32 bytes
TICK_TYPE_ID = 0x7469636B  # "tick"
CHUNK = 4096


def main():
    path, count = sys.argv[1], int(sys.argv[2])
    pack = TICK.pack
    with zipc.Channel.connect(path, timeout=60) as ch:
        t0 = time.perf_counter()
        for start in range(0, count, CHUNK):
            ts = time.time_ns()
            ticks = [pack(i, ts, 100.0 + (i % 1000) * 0.25, 1.0 + (i & 7), i & 1)
                     for i in range(start, min(start + CHUNK, count))]
            ch.send_many(ticks, type_id=TICK_TYPE_ID, timeout=10)
        secs = time.perf_counter() - t0
    print(f"python producer: {count} ticks sent in {secs:.3f} s: {count / secs / 1e6:.2f} M msgs/s")


if __name__ == "__main__":
    main()
