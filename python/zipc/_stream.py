"""Typed objects over any byte stream: StreamWriter / StreamReader.

The same objects as send_object / recv_object (bytes, str, JSON values,
NumPy arrays, lists of these, registered user types) through a pipe,
stdin/stdout, a socket or a file, so that `producer | consumer` works between
Python, C and C++ (include/zipc/stream.h). Each frame is a 32-byte
little-endian header then the payload a channel message of that type would
carry (docs/ABI.md, "Stream framing"):

    magic "ZSTM", version 1, flags 0, type id, CRC-32 of the payload,
    payload size (u64), reserved 0, CRC-32 of the 28 bytes before it

The CRCs are zlib's (zlib.crc32, the C library's zipc_stream_crc32). The
header is checked before its payload is read, and the payload buffer grows
with the bytes that arrive, never beyond max_frame: a hostile stream cannot
make a reader allocate memory it did not send.
"""
from __future__ import annotations

import errno
import os
import select
import struct
import zlib

from . import _typed
from ._zipc import TYPE_TENSOR, AbiMismatchError, CorruptedError, InvalidArgument, PeerGone

MAGIC = 0x4D54535A  # "ZSTM"
VERSION = 1
DEFAULT_MAX_FRAME = 1 << 30
_HEADER = struct.Struct("<IHHIIQI")  # magic, version, flags, type, payload_crc, size, reserved
_CRC = struct.Struct("<I")           # header_crc, the last 4 bytes
HEADER_SIZE = _HEADER.size + _CRC.size
_GROW_MIN = 64 * 1024
_READ_AHEAD = 64 * 1024


def frame_header(type_id: int, size: int, payload_crc: int) -> bytes:
    """The 32-byte header of a frame."""
    head = _HEADER.pack(MAGIC, VERSION, 0, type_id, payload_crc, size, 0)
    return head + _CRC.pack(zlib.crc32(head))


def _payload_parts(obj) -> tuple[int, list]:
    """(type_id, buffers whose concatenation is the payload). A NumPy array
    goes as its tensor header and its own memory, without the copy into one
    bytes object that encode() makes."""
    if _typed._is_ndarray(obj) and _typed._registered_id(obj) is None:
        np = _typed._arrays.numpy()
        arr = np.asarray(obj)  # as tensor_payload(): C order, 0-d kept
        if not arr.flags.c_contiguous:
            arr = arr.copy(order="C")
        header = _typed.tensor_header(*_typed._arrays.dlpack_dtype(arr.dtype), arr.shape)
        return TYPE_TENSOR, [header, memoryview(arr.reshape(-1).view(np.uint8))]
    type_id, payload = _typed.encode(obj)
    return type_id, [payload]


def _corrupted(why: str) -> CorruptedError:
    return CorruptedError(errno.EBADMSG, f"broken stream: {why}")


class StreamWriter:
    """Write typed objects as frames to a file, a socket or an fd (int).

    write(obj) sends one object, write_raw(type_id, data) a payload as is.
    With an fd, each frame is one os.writev(); with a file object, its
    write() calls followed by flush() (flush=False leaves that to you).
    The writer never closes what it was given. One writer per stream at a
    time: frames of two writers may interleave byte-wise."""

    def __init__(self, target, *, flush: bool = True):
        self._fd = target if isinstance(target, int) else None
        if self._fd is None:
            target = getattr(target, "buffer", target)  # sys.stdout: its binary layer
            send = getattr(target, "sendall", None) or getattr(target, "write", None)
            if send is None:
                raise TypeError("StreamWriter needs an fd, a binary file or a socket")
            self._send = send
            self._flush = getattr(target, "flush", None) if flush else None
        self.frames = 0

    def write(self, obj) -> None:
        """Send one object (send_object's kinds)."""
        type_id, parts = _payload_parts(obj)
        self._write_parts(type_id, parts)

    def write_raw(self, type_id: int, data) -> None:
        """Send `data` (any bytes-like) as a payload of type_id, unchanged."""
        self._write_parts(type_id, [data])

    def _write_parts(self, type_id: int, parts: list) -> None:
        crc, size = 0, 0
        for p in parts:
            crc = zlib.crc32(p, crc)
            size += memoryview(p).nbytes
        out = [frame_header(type_id, size, crc), *parts]
        if self._fd is not None:
            self._writev_all(out)
        else:
            for p in out:
                self._send(p)
            if self._flush is not None:
                self._flush()
        self.frames += 1

    def _writev_all(self, parts: list) -> None:
        views = [memoryview(p).cast("B") for p in parts]
        while views:
            n = os.writev(self._fd, views)
            while views and n >= len(views[0]):
                n -= len(views.pop(0))
            if views:
                views[0] = views[0][n:]

    def close(self) -> None:
        """Flush a file object (nothing is closed)."""
        if self._fd is None and self._flush is not None:
            self._flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class StreamReader:
    """Read typed objects from a file, a socket or an fd (int).

    read() returns the next object; at the clean end of the stream (between
    two frames) it raises PeerGone, which ends iteration (`for obj in
    reader`). A broken stream (cut inside a frame, bad magic or checksum)
    raises CorruptedError; a frame larger than max_frame InvalidArgument
    (EMSGSIZE); another format version AbiMismatchError. After one of these
    the reader stays broken (a byte stream cannot be resynchronised). The
    reader reads ahead: do not read the same stream by other means."""

    def __init__(self, source, *, max_frame: int = DEFAULT_MAX_FRAME):
        if not isinstance(max_frame, int) or max_frame < 0:
            raise ValueError("max_frame must be an int >= 0")
        self.max_frame = max_frame or DEFAULT_MAX_FRAME
        self._own = None
        if isinstance(source, int):
            source = self._own = open(source, "rb", buffering=_READ_AHEAD, closefd=False)
        elif hasattr(source, "recv_into") and hasattr(source, "makefile"):
            source = self._own = source.makefile("rb")  # a socket, buffered for read-ahead
        source = getattr(source, "buffer", source)  # sys.stdin: its binary layer
        if not hasattr(source, "readinto") and not hasattr(source, "read"):
            raise TypeError("StreamReader needs an fd, a binary file or a socket")
        self._src = source
        self._broken: BaseException | None = None
        self.frames = 0

    def read(self):
        """The next object (what send_object would have sent)."""
        type_id, payload = self._next_frame()
        return _typed.decode(type_id, payload, own=True)  # the frame's buffer: an array needs no copy

    def read_raw(self) -> _typed.RawMessage:
        """The next frame as RawMessage(type_id, data), not decoded."""
        type_id, payload = self._next_frame()
        return _typed.RawMessage(type_id, bytes(payload))

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self.read()
        except PeerGone:
            raise StopIteration from None

    def close(self) -> None:
        """Let go of the buffered layer made for an fd or socket (which stays open)."""
        if self._own is not None:
            self._own.close()
            self._own = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- framing ------------------------------------------------------------

    def _next_frame(self) -> tuple[int, bytearray]:
        if self._broken is not None:
            raise self._broken
        try:
            return self._frame()
        except (CorruptedError, InvalidArgument, AbiMismatchError) as e:
            self._broken = e
            raise

    def _frame(self) -> tuple[int, bytearray]:
        head = bytearray(HEADER_SIZE)
        got = self._fill(memoryview(head))
        if got == 0:
            raise PeerGone(errno.EPIPE, "the stream ended")
        if got < HEADER_SIZE:
            raise _corrupted("it ended inside a frame header")
        magic, version, flags, type_id, payload_crc, size, reserved = _HEADER.unpack_from(head)
        (header_crc,) = _CRC.unpack_from(head, _HEADER.size)
        if magic != MAGIC or header_crc != zlib.crc32(memoryview(head)[:_HEADER.size]):
            raise _corrupted("bad frame header (magic or checksum)")
        if version != VERSION:
            raise AbiMismatchError(errno.EPROTO, f"stream format version {version}, this reader reads {VERSION}")
        if flags or reserved:
            raise _corrupted("reserved header fields are not 0")
        if size > self.max_frame:
            raise InvalidArgument(errno.EMSGSIZE, f"a frame of {size} bytes is larger than max_frame ({self.max_frame})")
        payload = self._payload(size)
        if zlib.crc32(payload) != payload_crc:
            raise _corrupted("payload checksum mismatch")
        self.frames += 1
        return type_id, payload

    def _payload(self, size: int) -> bytearray:
        """size bytes, in a buffer that grows with what arrives (at most twice)."""
        buf = bytearray(min(size, _GROW_MIN))
        got = 0
        while True:
            with memoryview(buf) as mv:
                got += self._fill(mv[got:])
            if got < len(buf):
                raise _corrupted("it ended inside a payload")
            if got == size:
                return buf
            buf += bytes(min(size, 2 * got) - got)

    def _fill(self, mv: memoryview) -> int:
        """Read into mv until full or the end of the stream; the bytes read."""
        got = 0
        while got < len(mv):
            n = self._read_into(mv[got:])
            if n == 0:
                break
            got += n
        return got

    def _read_into(self, mv: memoryview) -> int:
        src = self._src
        if hasattr(src, "readinto"):
            n = src.readinto(mv)
            if n is None:  # a non-blocking file with nothing yet
                select.select([src], [], [])
                return self._read_into(mv)
            return n
        data = src.read(len(mv))
        mv[:len(data)] = data
        return len(data)
