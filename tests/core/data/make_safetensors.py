#!/usr/bin/env python3
"""Writes the safetensors file that tests/core/test_safetensors.c reads back
(the reference writer's output, checked against zipc's reader).

    python3 tests/core/data/make_safetensors.py [OUT]

OUT defaults to numpy_small.safetensors next to this script (the committed
copy, made with safetensors 0.8.0 and numpy 2.4). The test also runs this
script into a temporary directory when a Python with safetensors is found,
to check the installed writer's current output. Keep the tensors below in
step with check_numpy_file() in the test.
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file


def tensors():
    return {
        "weight": np.arange(12, dtype=np.float32).reshape(3, 4),
        "bias": np.array([1, -2, 3], dtype=np.int64),
        "half": np.arange(5, dtype=np.float16),
        "flags": np.array([True, False, True]),
        "scalar": np.array(2.5, dtype=np.float64),
        "empty": np.zeros((0, 3), dtype=np.uint8),
        "grid.i16": np.array([[-1, 2], [3, -4]], dtype=np.int16),
        "caf\u00e9": np.array([7], dtype=np.uint8),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "numpy_small.safetensors")
    save_file(tensors(), out, metadata={"format": "np", "producer": "zipc tests"})


if __name__ == "__main__":
    main()
