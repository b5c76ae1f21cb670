"""One source for each fact: the exception map walks the C errno map
(ZIPC_ERRNO_MAP, exposed as _zipc.ERRNO_MAP), wrong-role calls raise one
exception, and the version is the C library's."""
import errno
import importlib.metadata
import re

import numpy as np
import pytest

import zipc
from zipc import _zipc

# The zipc exception of every code the C map knows. A code added to
# ZIPC_ERRNO_MAP fails test_every_c_code_has_its_exception until it is
# placed here and in _zipc.c's error_class().
EXPECTED = {
    "EAGAIN": zipc.Timeout,
    "ETIMEDOUT": zipc.Timeout,
    "EPIPE": zipc.PeerGone,
    "EPROTO": zipc.AbiMismatchError,
    "EBADMSG": zipc.CorruptedError,
    "EMSGSIZE": zipc.InvalidArgument,
    "EPERM": zipc.PermissionDenied,
    "EACCES": zipc.PermissionDenied,
    "EADDRINUSE": zipc.Error,
    "EINTR": zipc.Error,
    "ECANCELED": zipc.Cancelled,
    "ENOTSOCK": zipc.Error,
    "EALREADY": zipc.Error,
    "ENOENT": zipc.Error,
    "ECONNREFUSED": zipc.Error,
    "EOPNOTSUPP": zipc.InvalidArgument,
    "EFBIG": zipc.Error,
    "EINVAL": zipc.InvalidArgument,
    "ENOMEM": zipc.Error,
    "ENAMETOOLONG": zipc.InvalidArgument,
    "EMFILE": zipc.Error,
    "ENOSYS": zipc.Error,
    "EOVERFLOW": zipc.Overflow,
    "ESTALE": zipc.Stale,
    "ENOSPC": zipc.Error,
    "EPROTOTYPE": zipc.Error,
    "ECONNRESET": zipc.ConnectionReset,
}


def test_the_c_map_is_consistent():
    names = [name for name, _, _ in _zipc.ERRNO_MAP]
    assert len(names) == len(set(names)) > 0
    for name, code, text in _zipc.ERRNO_MAP:
        assert code == getattr(errno, name)  # the C library's numbering is Python's
        assert _zipc.err_name(code) == _zipc.err_name(-code) == name
        assert _zipc.strerror(-code) == _zipc.strerror(code) == text


def test_every_c_code_has_its_exception():
    assert set(EXPECTED) == {name for name, _, _ in _zipc.ERRNO_MAP}
    for name, code, _ in _zipc.ERRNO_MAP:
        cls = _zipc.error_class(-code)
        assert cls is EXPECTED[name], (name, cls)
        assert issubclass(cls, zipc.Error) and issubclass(cls, OSError)
    assert _zipc.error_class(-errno.EXDEV) is zipc.Error  # a system code outside the map
    assert _zipc.err_name(-errno.EXDEV) == "EXDEV"


def test_raised_errors_carry_the_c_text(pair):
    prod, cons = pair
    with pytest.raises(zipc.InvalidArgument) as e:
        prod.send(bytes(prod.max_message + 1))
    assert e.value.errno == errno.EMSGSIZE
    with pytest.raises(zipc.Timeout) as e:
        cons.recv(timeout=0)
    assert e.value.errno == errno.EAGAIN and e.value.strerror == _zipc.strerror(errno.EAGAIN)


PRODUCER_ONLY = {
    "send": lambda ch: ch.send(b"x"),
    "send_many": lambda ch: ch.send_many([b"x"]),
    "flush": lambda ch: ch.flush(),
    "reserve": lambda ch: ch.reserve(8),
    "send_tensor": lambda ch: ch.send_tensor(np.zeros(2)),
    "reserve_tensor": lambda ch: ch.reserve_tensor(2, np.float32),
    "send_object": lambda ch: ch.send_object({"a": 1}),
}
CONSUMER_ONLY = {
    "recv": lambda ch: ch.recv(timeout=0),
    "recv_many": lambda ch: ch.recv_many(timeout=0),
    "view": lambda ch: ch.view(timeout=0),
    "drain": lambda ch: ch.drain(timeout=0),
    "recv_tensor": lambda ch: ch.recv_tensor(timeout=0),
    "recv_tensors": lambda ch: ch.recv_tensors(timeout=0),
    "recv_object": lambda ch: ch.recv_object(timeout=0),
}


@pytest.mark.parametrize("call", list(PRODUCER_ONLY) + list(CONSUMER_ONLY))
def test_wrong_role_raises_one_exception(pair, call):
    prod, cons = pair
    wrong, fn = (cons, PRODUCER_ONLY[call]) if call in PRODUCER_ONLY else (prod, CONSUMER_ONLY[call])
    with pytest.raises(zipc.InvalidArgument) as e:
        fn(wrong)
    assert e.value.errno == errno.EOPNOTSUPP


def test_version_is_the_c_librarys():
    assert zipc.__version__ == zipc.C_VERSION == importlib.metadata.version("zipc")
    import cbuild

    root = cbuild.repo_root()
    if root is None:
        pytest.skip("zipc source tree not found: include/zipc/common.h not checked")
    header = (root / "include" / "zipc" / "common.h").read_text()
    parts = [re.search(rf"#define ZIPC_VERSION_{p} (\d+)", header).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    assert zipc.__version__ == ".".join(parts)

