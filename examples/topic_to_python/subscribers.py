"""Two Python subscribers of one feed of ticks and frames, each with its own policy:

  frames  policy "block": lossless (the publisher waits for it); reads each
          frame as a zero-copy read-only NumPy array (DLPack from a View) and
          checks every pixel
  logger  policy "drop_oldest": a slow logger that never holds the publisher
          back; when lapped, zipc.Overflow says exactly how many messages it
          lost, and it goes on

    python3 subscribers.py NAME [PUBLISHER COMMAND...]

Both subscribers start first (subscribe() waits for the publisher to exist),
then the publisher command runs; it publishes once both are attached (default: this directory's publisher.py, in Python; a
C or C++ publisher of the same formats, see feed.py, works the same).
"""
import json
import multiprocessing
import os
import subprocess
import sys
import time

import numpy as np

import zipc
from feed import TICK, TICK_TYPE_ID, frame_pattern


def end_totals(msg_type, data, end):
    """The end message (JSON) fills `end` with the publisher's totals."""
    if msg_type == zipc.TYPE_JSON:
        end.update(json.loads(bytes(data)))


def frames_subscriber(name):
    sub = zipc.Topic.subscribe(name, policy="block", timeout=30)
    frames = ticks = 0
    end = {}
    while not end:
        with sub.drain(timeout=30) as batch:
            for v in batch:
                if v.type_id == zipc.TYPE_TENSOR:
                    a = np.from_dlpack(v)  # in the ring: no copy, read-only
                    assert not a.flags.writeable and np.array_equal(a, frame_pattern(frames)), frames
                    frames += 1
                elif v.type_id == TICK_TYPE_ID:
                    ticks += 1
                else:
                    end_totals(v.type_id, v, end)
                del v
    assert (ticks, frames) == (end["ticks"], end["frames"]), (ticks, frames, end)
    print(f"frames (Python, block): {frames} frames checked in place, {ticks} ticks, nothing lost", flush=True)


def logger_subscriber(name):
    sub = zipc.Topic.subscribe(name, policy="drop_oldest", timeout=30)
    received = lost = overflows = last_seq = 0
    end = {}
    while not end:
        try:
            m = sub.recv(timeout=30)
        except zipc.Overflow as e:
            lost += e.messages
            overflows += 1
            continue
        received += 1
        if m.type_id == TICK_TYPE_ID:
            last_seq, _, price, _, _ = TICK.unpack(m.data)
            if last_seq % 10000 == 0:
                print(f"logger: tick {last_seq} price {price:.2f}", flush=True)
        else:
            end_totals(m.type_id, m.data, end)
        if received % 100 == 0:
            time.sleep(0.002)  # a slow consumer: the publisher laps it
    total = end["ticks"] + end["frames"] + 1
    assert received + lost == total, (received, lost, total)
    assert sub.stats()["lost_messages"] == lost
    print(f"logger (Python, drop_oldest): received {received} of {total} messages, lost {lost} in "
          f"{overflows} overflows (received + lost == published)", flush=True)


def main():
    name = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    publisher = sys.argv[2:] or [sys.executable, os.path.join(here, "publisher.py"), name]
    ctx = multiprocessing.get_context("spawn")
    kids = [ctx.Process(target=target, args=(name,)) for target in (frames_subscriber, logger_subscriber)]
    for kid in kids:
        kid.start()  # each waits in subscribe() until the publisher exists
    pub = subprocess.run(publisher)  # it waits until both are attached
    for kid in kids:
        kid.join(60)
    codes = [pub.returncode] + [k.exitcode for k in kids]
    if any(codes):
        sys.exit(f"subscribers.py: exit codes (publisher, frames, logger): {codes}")


if __name__ == "__main__":
    main()
