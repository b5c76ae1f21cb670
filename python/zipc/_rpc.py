"""zipc.RpcClient and zipc.RpcWorker: calls to a pool of worker processes.

The C types (zipc._zipc.RpcClient, RpcWorker, zipc.Request) hold the C calls
of include/zipc/rpc.h; this module adds the typed layer (objects in, objects
out, errors as exceptions) and asyncio.

Typed requests. An rpc request carries no type id (only a method number), so
a typed request is sent as a typed list of exactly one element (TYPE_LIST,
docs/ABI.md "Typed messages"): 32 bytes of list header and entry, padding to
64, then the object's typed payload. A C worker reads it with the list
layout of zipc/types.h; ``raw=True`` sends bytes as they are instead (what a
C worker reading plain bytes wants). A reply has its own type id: it is the
object's typed payload as is.

asyncio. One client serves any number of concurrent ``call_async``: each
call's future waits in a table by call id; one reader on the client's fd
(loop.add_reader) takes every reply that came (zipc_rpc_wait for any call,
without blocking, which also arms the fd) and settles its future. A call's
deadline is the C service's (its wait reports -ETIMEDOUT once the deadline
passed): a timer looks again at that moment. Cancelling the awaiting task
cancels the call (zipc_rpc_cancel).

Streamed replies. A worker may answer with parts before its final reply
(``respond_part``; the caller's release of a part lets the next one come).
``stream()`` / ``stream_async()`` yield them; ``wait`` hands a part out as a ReplyPart (the call
stays in flight); ``call`` and ``call_async`` want one reply: a part fails
them (InvalidArgument) and cancels the call, never dropping it silently.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import struct
import time

from . import _aio, _typed
from ._zipc import (
    RPC_DEFAULT_REPLY,
    TYPE_BYTES,
    TYPE_STR,
    Cancelled,
    CorruptedError,
    Error,
    InvalidArgument,
    Request,
    Timeout,
    error_class,
    strerror,
)
from ._zipc import RpcClient as _CClient
from ._zipc import RpcWorker as _CWorker

# ---- the typed request: a TYPE_LIST of one element ------------------------------

_ENVELOPE = struct.Struct("<IIIIQQ")  # list header (count, reserved), its entry (type, reserved, offset, size)
_ENVELOPE_SIZE = 64  # the element starts at the first LIST_ALIGN boundary
_PAD = bytes(_ENVELOPE_SIZE - _ENVELOPE.size)


def _request_payload(obj, raw: bool):
    """The parts of a request: obj as it is (raw), or its typed envelope."""
    if raw:
        if not isinstance(obj, (bytes, bytearray, memoryview)):
            raise TypeError(f"raw=True sends a bytes-like object, not {type(obj).__name__}")
        return obj
    type_id, parts, size = _typed.encode_parts(obj)
    return (_ENVELOPE.pack(1, 0, type_id, 0, _ENVELOPE_SIZE, size) + _PAD, *parts)


def request_object(req: Request, copy: bool):
    """The object of a typed request (Request.data, Request.object): a copy,
    or (copy=False) an array / memoryview over the caller's frame."""
    # in place: over an exporter that keeps the request unanswerable while
    # anything made from it lives (NumPy keeps exporters, not exports)
    mv = memoryview(req) if copy else memoryview(req._buffer())
    try:
        count, reserved, type_id, _, offset, size = _ENVELOPE.unpack_from(mv) if len(mv) >= _ENVELOPE.size else (0,) * 6
        if count != 1 or reserved or offset < _ENVELOPE.size or offset > len(mv) or size != len(mv) - offset:
            err = CorruptedError(errno.EBADMSG, "not a typed request (a typed list of one element): read it "
                                 "with bytes(request) or memoryview(request)")
            err.raw = _typed.RawMessage(TYPE_BYTES, bytes(mv))
            raise err
        return _typed.decode_buffer(type_id, mv[offset:offset + size], copy)
    finally:
        if copy:
            mv.release()  # nothing holds the frame: respond() may go


# ---- replies ------------------------------------------------------------------------

_TEXTS = {
    errno.ETIMEDOUT: "the call's deadline passed",
    errno.ECONNRESET: "the worker serving the call died, or dropped it unanswered",
    errno.ECANCELED: "the call was cancelled",
}


def _reply_value(raw, copy: bool, deadline: float | None = None):
    """The object of a reply from _wait; an error status raises its zipc
    exception (.call_id, and .reply: what the worker sent with it, or None).
    A reply seen past the call's deadline (time.monotonic()) is a timeout:
    the C service gives a reply that came before it looked at the deadline
    (a worker answering late), and a call's deadline is a promise."""
    call_id, status, type_id, view = raw[:4]
    if status == 0 and deadline is not None and time.monotonic() > deadline:
        _drop(raw)
        status, view = -errno.ETIMEDOUT, None
    if status == 0:
        return _typed.view_object(view, copy)
    detail = None
    if view is not None:
        try:
            detail = _typed.view_object(view, True) if view.size else None
        except Error:
            detail = None
    code = -status
    text = _TEXTS.get(code) or strerror(code)
    if isinstance(detail, str) and detail:
        text = f"{text}: {detail}"
    err = error_class(code)(code, text)
    err.call_id = call_id
    err.reply = detail
    raise err


class ReplyPart:
    """One part of a streamed reply (RpcWorker.respond_part), as wait()
    returns it: ``index`` (1, 2, ...) and ``value`` (the part's object). The
    call stays in flight: wait for it again for the next part or the final
    reply."""

    __slots__ = ("index", "value")

    def __init__(self, index: int, value) -> None:
        self.index = index
        self.value = value

    def __repr__(self) -> str:
        return f"<zipc.ReplyPart {self.index}: {self.value!r}>"


def _is_part(raw) -> bool:
    return raw[4] > 0


def _settle(raw, copy: bool, deadline: float | None):
    """wait()'s answer for raw: a ReplyPart or the final reply's object."""
    if _is_part(raw):
        return ReplyPart(raw[4], _reply_value(raw, copy))
    return _reply_value(raw, copy, deadline)


def _drop(raw) -> None:
    if raw[3] is not None:
        raw[3].release()


def _empty(reply) -> bool:
    return reply is None or (isinstance(reply, (bytes, bytearray, memoryview)) and len(reply) == 0)


def _streamed(call_id: int) -> InvalidArgument:
    err = InvalidArgument(errno.EINVAL, "the worker streams this call's reply (respond_part): read it with "
                          "RpcClient.stream(); the call was cancelled")
    err.call_id = call_id
    return err


class _Calls:
    """A client's bookkeeping: the calls submitted and not yet waited for,
    and replies the asyncio reader took for calls nobody awaits there."""

    def __init__(self) -> None:
        self.pending: dict[int, float | None] = {}  # call id -> its deadline (time.monotonic())
        self.early: dict[int, tuple] = {}
        self.dispatch: _Dispatch | None = None


class RpcClient(_CClient):
    """A client of an rpc service: calls go to a pool of workers (RpcWorker,
    in any processes), any number in flight, replies matched by call id.

    ``RpcClient.connect(name)`` attaches, creating the service if nobody
    holds it (no server process: workers and clients attach alike).

    ``call(obj, method)`` sends a typed object (bytes, str, JSON values,
    NumPy arrays with dtype and shape, lists of these, registered types) and
    returns the worker's reply object; ``submit`` / ``wait`` split it (many
    calls in flight, ``wait(None)`` for whichever is answered first);
    ``cancel(id)`` withdraws one. ``call_async`` is the asyncio form: any
    number of concurrent awaits share one client.

    A call's ``timeout`` is its deadline (seconds; None: none): past it the
    call fails with zipc.Timeout and is withdrawn (a worker holding it sees
    ``Request.cancelled()``). A worker that dies serving a call fails it with
    zipc.ConnectionReset (an ``idempotent=True`` call is run once more by
    another worker first). A worker's error status raises its zipc
    exception, with what the worker sent along in ``.reply``.

    ``reply_capacity`` (bytes, default RPC_DEFAULT_REPLY = 4096) is the room
    made for the reply in the call's frame: size it for array replies. The
    request and the reply share one frame of the client's lane
    (``lane_capacity``, default 1 MiB, half of it at most per frame).

    ``copy=False``: an array reply comes as a read-only ndarray over the
    frame and bytes as a memoryview; the frame is held until they are gone
    (release the memoryview, drop the array).

    One thread at a time uses a client (another one may close() or
    interrupt() it: a blocked call raises Cancelled). Blocking calls release
    the GIL and Ctrl-C interrupts them (the call is cancelled).
    """

    def _st(self) -> _Calls:
        st = self.__dict__.get("_calls")
        if st is None:
            st = self.__dict__["_calls"] = _Calls()
        return st

    # ---- sync ------------------------------------------------------------------

    def submit(self, obj, method: int = 0, *, timeout: float | None = None, idempotent: bool = False,
               reply_capacity: int = RPC_DEFAULT_REPLY, raw: bool = False) -> int:
        """Issue a call without waiting for its reply: its call id. Waits for
        room in the client's lane (calls in flight hold it) up to `timeout`."""
        payload = _request_payload(obj, raw)
        deadline = None if timeout is None else time.monotonic() + timeout
        call_id = self._submit(payload, method, idempotent, reply_capacity, timeout, True)
        self._st().pending[call_id] = deadline
        return call_id

    def wait(self, call_id: int | None = None, timeout: float | None = None, *, copy: bool = True):
        """The reply object of call `call_id`, waiting up to `timeout` (None:
        until it comes or its deadline passes; Timeout, the call stays in
        flight). call_id None: the first reply of any call, as (call_id,
        object). A failed call raises its error (with .call_id)."""
        st = self._st()
        if call_id is None:
            raw = st.early.pop(next(iter(st.early))) if st.early else self._wait(None, timeout)
            deadline = st.pending.get(raw[0]) if _is_part(raw) else st.pending.pop(raw[0], None)
            return raw[0], _settle(raw, copy, deadline)
        raw = st.early.pop(call_id, None)
        if raw is None:
            if call_id not in st.pending:
                raise InvalidArgument(errno.EINVAL, f"call {call_id} is not in flight (answered, cancelled or "
                                      "not submitted by this client)")
            raw = self._wait(call_id, timeout)
        if _is_part(raw):
            return _settle(raw, copy, None)
        return _reply_value(raw, copy, st.pending.pop(call_id, None))

    def call(self, obj, method: int = 0, *, timeout: float | None = None, idempotent: bool = False,
             reply_capacity: int = RPC_DEFAULT_REPLY, copy: bool = True, raw: bool = False):
        """submit + wait: the reply object. Interrupted (Ctrl-C, close() from
        another thread), the call is cancelled."""
        call_id = self.submit(obj, method, timeout=timeout, idempotent=idempotent, reply_capacity=reply_capacity,
                              raw=raw)
        try:
            reply = self.wait(call_id, copy=copy)
            if isinstance(reply, ReplyPart):
                raise _streamed(call_id)
            return reply
        except BaseException:
            if call_id in self._st().pending:  # not answered: nobody will wait for it
                with contextlib.suppress(Error, ValueError, RuntimeError):
                    self.cancel(call_id)
            raise

    def stream(self, obj, method: int = 0, *, timeout: float | None = None, idempotent: bool = False,
               reply_capacity: int = RPC_DEFAULT_REPLY, copy: bool = True, raw: bool = False):
        """A call whose worker streams its reply (RpcWorker.respond_part):
        yields each part's object, then the final reply's object if it has
        one (a final reply without bytes ends the stream). The worker sends
        the next part once the previous one is released: with copy=False,
        drop each array / memoryview before taking the next. Leaving the
        loop early cancels the call."""
        call_id = self.submit(obj, method, timeout=timeout, idempotent=idempotent, reply_capacity=reply_capacity,
                              raw=raw)
        done = False
        try:
            while True:
                reply = self.wait(call_id, copy=copy)
                if not isinstance(reply, ReplyPart):
                    done = True
                    if not _empty(reply):
                        yield reply
                    return
                value = reply.value
                del reply  # in place, the part is held by what the caller keeps, not by us
                yield value
                del value
        finally:
            if not done and call_id in self._st().pending:
                with contextlib.suppress(Error, ValueError, RuntimeError):
                    self.cancel(call_id)

    def cancel(self, call_id: int) -> None:
        """Withdraw a call: it will not be answered (a worker not there yet
        skips it; one holding it sees Request.cancelled()). A reply already
        there is dropped. InvalidArgument if it is not in flight."""
        st = self._st()
        raw = st.early.pop(call_id, None)
        if raw is not None:
            st.pending.pop(call_id, None)
            _drop(raw)
            return
        if call_id not in st.pending:
            raise InvalidArgument(errno.EINVAL, f"call {call_id} is not in flight")
        del st.pending[call_id]
        self._cancel(call_id)

    def pending(self) -> frozenset[int]:
        """The call ids submitted and not waited for (nor cancelled)."""
        return frozenset(self._st().pending)

    # ---- asyncio ---------------------------------------------------------------

    async def call_async(self, obj, method: int = 0, *, timeout: float | None = None, idempotent: bool = False,
                         reply_capacity: int = RPC_DEFAULT_REPLY, copy: bool = True, raw: bool = False):
        """call() for asyncio, never blocking the loop; any number may run at
        once on one client. Cancelling the awaiting task cancels the call."""
        d, call_id, fut, timer = await self._issue_async(obj, method, timeout, idempotent, reply_capacity, copy,
                                                         raw, None)
        try:
            return await fut
        finally:
            self._settle_async(d, call_id, timer)

    async def stream_async(self, obj, method: int = 0, *, timeout: float | None = None, idempotent: bool = False,
                           reply_capacity: int = RPC_DEFAULT_REPLY, copy: bool = True, raw: bool = False):
        """stream() for asyncio (``async for part in client.stream_async(...)``):
        each part's object, then the final reply's if it has one. Leaving
        the loop early (or cancelling the task) cancels the call."""
        parts: asyncio.Queue = asyncio.Queue()
        d, call_id, fut, timer = await self._issue_async(obj, method, timeout, idempotent, reply_capacity, copy,
                                                         raw, parts)
        try:
            while True:
                if parts.empty() and not fut.done():
                    get = asyncio.ensure_future(parts.get())
                    try:
                        await asyncio.wait((get, fut), return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        if not get.done():
                            get.cancel()
                    if get.done() and not get.cancelled():
                        yield get.result()
                        continue
                if not parts.empty():  # parts came before the final reply: theirs first
                    yield parts.get_nowait()
                    continue
                final = fut.result()
                if not _empty(final):
                    yield final
                return
        finally:
            self._settle_async(d, call_id, timer)

    async def _issue_async(self, obj, method, timeout, idempotent, reply_capacity, copy, raw, parts):
        """Submit a call for asyncio: (dispatch, call id, future, deadline timer)."""
        loop = asyncio.get_running_loop()
        st = self._st()
        d = st.dispatch
        if d is None or d.loop is not loop:
            if d is not None:
                d.detach(RuntimeError("the client moved to another event loop"))
            d = st.dispatch = _Dispatch(self, loop)
        payload = _request_payload(obj, raw)
        deadline = None if timeout is None else loop.time() + timeout
        call_id = await d.submit(payload, method, idempotent, reply_capacity, deadline)
        fut = loop.create_future()
        d.futures[call_id] = (fut, copy, parts)
        d.watch()
        d.look_soon()  # the reply may be there already, and a look arms the fd
        timer = None if deadline is None else loop.call_at(deadline, d.look_at_deadline, call_id)
        return d, call_id, fut, timer

    def _settle_async(self, d: _Dispatch, call_id: int, timer) -> None:
        """After an async call: cancel it if nobody got its final reply (the
        task was cancelled, the loop left early), and stop watching."""
        if d.futures.pop(call_id, None) is not None and call_id in self._st().pending:
            with contextlib.suppress(Error, ValueError, RuntimeError):
                self.cancel(call_id)
        if timer is not None:
            timer.cancel()
        d.idle()

    # ---- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Close the client: its calls in flight are cancelled (awaiting
        tasks raise Cancelled). Replies held in place keep the mapping until
        they are gone."""
        st = self.__dict__.get("_calls")
        if st is not None:
            if st.dispatch is not None:
                st.dispatch.detach(Cancelled(errno.ECANCELED, "the client was closed"))
                st.dispatch = None
            for raw in st.early.values():
                _drop(raw)
            st.early.clear()
            st.pending.clear()
        super().close()

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def __reduce__(self):
        raise TypeError("a zipc.RpcClient is one process's member of the service, not picklable: pass the "
                        "service's name to the child and connect there (zipc.RpcClient.connect(name))")

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"in_flight={self.in_flight()}"
        return f"<zipc.RpcClient {state}>"


class _Dispatch:
    """The asyncio side of one client on one loop: futures by call id, one
    reader on the client's fd while any call waits."""

    def __init__(self, client: RpcClient, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.loop = loop
        self.fd = client.fileno()  # created before the first try: every try that would block arms it
        # call id -> (its future, copy, its parts' queue: stream_async's, else None)
        self.futures: dict[int, tuple[asyncio.Future, bool, asyncio.Queue | None]] = {}
        self.room: list[asyncio.Future] = []  # submits waiting for lane room
        self.reading = False
        self.looking = False  # a look is scheduled

    def look_soon(self) -> None:
        """One pump at the loop's next turn for all the calls issued till then."""
        if not self.looking:
            self.looking = True
            self.loop.call_soon(self._look)

    def _look(self) -> None:
        self.looking = False
        self.pump()

    def watch(self) -> None:
        if not self.reading:
            self.loop.add_reader(self.fd, self.pump)
            self.reading = True

    def idle(self) -> None:
        if self.reading and not self.futures and not self.room:
            self.loop.remove_reader(self.fd)
            self.reading = False

    def pump(self) -> None:
        """Settle every call whose reply (or deadline) came; the last look
        finds none and arms the fd again."""
        c = self.client
        st = c._st()
        freed = False
        while True:
            try:
                raw = c._wait(None, 0)
            except Timeout:
                break
            except (Error, ValueError, RuntimeError) as e:  # closed, interrupted, in use
                self.detach(e)
                return
            call_id = raw[0]
            entry = self.futures.get(call_id)
            if entry is None:  # a call submitted for wait(): keep it for that
                st.early[call_id] = raw
                continue
            fut, copy, parts = entry
            if parts is not None and _is_part(raw) and not fut.done():
                try:
                    parts.put_nowait(_reply_value(raw, copy))
                except Exception as e:  # a part the service found broken
                    fut.set_exception(e)
                continue
            del self.futures[call_id]
            deadline = st.pending.pop(call_id, None)
            freed = True
            if fut.done():
                _drop(raw)
                continue
            if _is_part(raw):  # call_async wants one reply
                _drop(raw)
                with contextlib.suppress(Error, ValueError, RuntimeError):
                    c._cancel(call_id)
                fut.set_exception(_streamed(call_id))
                continue
            try:
                fut.set_result(_reply_value(raw, copy, deadline))
            except Exception as e:  # the call's error
                fut.set_exception(e)
        if freed:
            self.wake_room()

    def look_at_deadline(self, call_id: int) -> None:
        """A call's deadline: the service reports it when looked at (again a
        moment later if the clocks disagree by a hair)."""
        self.pump()
        if call_id in self.futures:
            self.loop.call_later(0.002, self.look_at_deadline, call_id)

    def wake_room(self) -> None:
        room, self.room = self.room, []
        for f in room:
            if not f.done():
                f.set_result(None)

    async def submit(self, payload, method, idempotent, reply_capacity, deadline) -> int:
        """Issue a call; while the lane is full, wait for replies to free room
        (or the fd: a worker skipping a cancelled call frees its frame)."""
        c = self.client
        while True:
            left = None if deadline is None else max(deadline - self.loop.time(), 0.0)
            try:
                call_id = c._submit(payload, method, idempotent, reply_capacity, left, False)
            except Timeout:  # the lane is full
                # the failed try armed (and may have drained) the fd our
                # reader waits on: look for replies ourselves, or a reply
                # that came meanwhile would wait for a wake-up already taken
                self.look_soon()
                if left == 0:
                    raise Timeout(errno.ETIMEDOUT, "the call's deadline passed before the lane had room") from None
            else:
                c._st().pending[call_id] = deadline
                return call_id
            f = self.loop.create_future()
            self.room.append(f)
            self.watch()
            try:  # bounded: room may come back without a reply of ours
                await asyncio.wait_for(f, 0.05 if left is None else min(left, 0.05))
            except asyncio.TimeoutError:
                pass
            finally:
                if f in self.room:
                    self.room.remove(f)
                self.idle()

    def detach(self, err: BaseException) -> None:
        """Stop reading; every waiting call fails with err."""
        if self.reading:
            self.loop.remove_reader(self.fd)
            self.reading = False
        futures, self.futures = self.futures, {}
        for fut, _, _ in futures.values():
            if not fut.done():
                fut.set_exception(err)
        self.wake_room()


class RpcWorker(_CWorker):
    """A worker of an rpc service: takes calls (``next``), answers them
    (``respond``), any number held at once and answered in any order.

    ``RpcWorker.serve(name)`` attaches, creating the service if need be.
    ``next(timeout)`` returns a zipc.Request: ``.data`` (the typed request
    object, a copy), ``.object(copy=False)`` (arrays and bytes in place),
    ``memoryview(req)`` / ``bytes(req)`` (raw bytes), ``.method``, ``.id``,
    ``.attempt``, ``.deadline`` (time.monotonic() seconds or None) and
    ``.cancelled()``. ``respond(req, obj)`` sends a typed reply;
    ``respond(req, status=-errno.EINVAL)`` an error (with obj: what the
    caller gets in its exception's ``.reply``). A Request dropped unanswered
    fails its call with ConnectionReset.

    ``serve_forever(handler)`` loops: handler(request) -> reply object; an
    exception in the handler answers the call with its errno (an OSError's)
    or EREMOTEIO, and its text. ``fileno()`` / ``next_async()`` for asyncio.

    A worker that dies holding calls fails them with ConnectionReset on the
    callers' side (or has another worker run them again, if idempotent).
    """

    def respond(self, request: Request, obj=None, *, status: int = 0, type_id: int | None = None) -> None:
        """Answer `request`: obj as a typed reply (type_id None), or a
        bytes-like sent as is with `type_id`; status 0 or a negative errno
        (obj None: no payload). InvalidArgument (EMSGSIZE) if it does not fit
        the caller's reply_capacity: the request stays open, answer again."""
        if type_id is not None:
            self._respond(request, obj if obj is not None else b"", type_id, status)
        elif obj is None and status:
            self._respond(request, b"", TYPE_BYTES, status)
        else:
            t, parts, _ = _typed.encode_parts(obj)
            self._respond(request, parts, t, status)

    def respond_part(self, request: Request, obj, *, timeout: float | None = None,
                     type_id: int | None = None) -> None:
        """One part of a streamed reply (the caller reads it with
        RpcClient.stream()): obj typed, or a bytes-like with `type_id`.
        Returns once the caller released it (the reply's room is reused),
        waiting up to `timeout`: Timeout, and the part stays out (until the
        caller releases it, only a reply without bytes may go: a reply with
        bytes raises Error EBUSY); Cancelled if the caller gave up.
        The request stays open: end it with respond()."""
        if type_id is not None:
            self._respond_part(request, obj, type_id, timeout)
        else:
            t, parts, _ = _typed.encode_parts(obj)
            self._respond_part(request, parts, t, timeout)

    def respond_error(self, request: Request, exc: BaseException) -> None:
        """Answer with an exception: its errno (an OSError's, else EREMOTEIO)
        and its text, cut to what the caller made room for."""
        code = exc.errno if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0 else errno.EREMOTEIO
        text = f"{type(exc).__name__}: {exc}".encode()[: max(request.reply_capacity, 0)]
        self._respond(request, text.decode(errors="ignore").encode(), TYPE_STR, -code)

    def serve_forever(self, handler, *, idle_timeout: float | None = None) -> int:
        """Answer calls with handler(request) until close() or interrupt()
        from another thread (or no call came for idle_timeout seconds).
        Returns how many calls it answered."""
        answered = 0
        while not self.closed:
            try:
                req = self.next(idle_timeout)
            except (Cancelled, Timeout):
                break
            except ValueError:  # closed meanwhile
                break
            self._serve_one(req, handler)
            answered += 1
        return answered

    def _serve_one(self, req: Request, handler) -> None:
        try:
            reply = handler(req)
        except Exception as e:
            self.respond_error(req, e)
            return
        try:
            self.respond(req, reply)
        except (InvalidArgument, TypeError, ValueError) as e:  # the reply does not fit, or has no encoding
            if req.answered:
                raise
            self.respond_error(req, e)

    async def next_async(self, timeout: float | None = None) -> Request:
        """next() for asyncio: waits on the worker's fd, never blocks the loop."""
        return await _aio.retry(self, lambda: self.next(0), timeout)

    def __reduce__(self):
        raise TypeError("a zipc.RpcWorker is one process's member of the service, not picklable: pass the "
                        "service's name to the child and serve there (zipc.RpcWorker.serve(name))")

    def __repr__(self) -> str:
        return f"<zipc.RpcWorker {'closed' if self.closed else 'serving'}>"
