"""The feed's message formats, shared by the publisher and the subscribers.

    tick   type TICK_TYPE_ID, 32 bytes: struct "<QqdfI" (seq u64, ts_ns i64,
           price f64, qty f32, side u32), as in examples/python_to_rust
    frame  a tensor message (zipc.TYPE_TENSOR): uint8[FRAME_SHAPE], pixel
           (r, c) of frame i is (i + r + c) % 256
    end    the last message, JSON (zipc.TYPE_JSON): {"ticks": T, "frames": F},
           how many of each were published before it

A publisher in any language writes these (a C or C++ one: zipc/tensor.h for
the frames); it starts publishing once SUBSCRIBERS subscribers are attached.
"""
import struct

import numpy as np

TICK = struct.Struct("<QqdfI")
TICK_TYPE_ID = 0x7469636B  # "tick"
FRAME_SHAPE = (120, 160)
SUBSCRIBERS = 2


def frame_pattern(i: int) -> np.ndarray:
    r, c = np.indices(FRAME_SHAPE)
    return ((i + r + c) % 256).astype(np.uint8)
