/* zipc rpc: many clients, a pool of workers, any number of calls in flight,
 * replies in any order, deadlines and cancellation. By name, no broker:
 * every client and worker attaches alike; any of them may die at any
 * instruction.
 *
 * Model
 *   An rpc service is a queue segment (zipc/queue.h) used both ways: each
 *   client owns a lane and writes its requests there; workers compete for
 *   them (each request is taken by one worker) and write the reply into the
 *   request's own frame, in the room the caller reserved for it. The caller
 *   reads the reply in place and releases the frame. No reply path can be
 *   wedged by a dying worker: there is none to share.
 *
 * Calls
 *   zipc_rpc_call (copied) or zipc_rpc_reserve + zipc_rpc_commit (zero-copy)
 *   issue a request with a method id, a reply capacity and a timeout, and
 *   give a call id. zipc_rpc_wait waits for one call or for any
 *   (ZIPC_RPC_ANY); the reply stays valid until zipc_rpc_reply_release.
 *   Calls complete in any order. A client has as many calls in flight as its
 *   lane holds (lane_capacity / (request + reply + 128) at least).
 *
 * Deadlines and cancel
 *   Every call has a deadline (its timeout from commit; ZIPC_FOREVER: none).
 *   Past it, zipc_rpc_wait for that call returns -ETIMEDOUT and the call is
 *   cancelled. zipc_rpc_cancel cancels a call at any time. A cancelled call
 *   is skipped by a worker that has not taken it yet; a worker holding it
 *   sees zipc_rpc_cancelled() return 1; its late reply is dropped and the
 *   frame is freed without the caller's help.
 *
 * Faults
 *   A worker killed mid-call: the call fails with -ECONNRESET (its reply
 *   status), or, for a method called with ZIPC_RPC_IDEMPOTENT, it is run once
 *   more by another worker (and fails with -ECONNRESET if that one dies too).
 *   A killed client: workers skip its pending calls, the frames return to
 *   its lane (a new client takes the lane over with them). A reply to a
 *   request the worker does not hold, or a call id the client does not have
 *   in flight, fails that one call (-EBADMSG, -EINVAL); everyone else goes on.
 *
 * Contract
 *   Concurrency, blocking, threads, allocation, limits: as zipc/queue.h (a
 *   client is a queue producer, a worker a queue consumer: 32 of each at
 *   once). zipc_rpc_wait, zipc_rpc_next, zipc_rpc_respond_part and zipc_rpc_part_wait
 *   block up to their timeout; nothing else blocks. A worker may hold any number of requests at once
 *   and reply in any order.
 *
 * Streamed replies
 *   A worker may answer with parts before the final reply: each
 *   zipc_rpc_respond_part is seen by the caller's wait as a reply with
 *   ZIPC_RPC_REPLY_MORE; the worker writes the next part once the caller
 *   released the previous one (one part in flight: the reply's room is
 *   reused). zipc_rpc_respond ends the call as for any call.
 */
#ifndef ZIPC_RPC_H
#define ZIPC_RPC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct zipc_rpc_client zipc_rpc_client;
typedef struct zipc_rpc_worker zipc_rpc_worker;

#define ZIPC_RPC_ANY UINT64_MAX
#define ZIPC_RPC_DEFAULT_REPLY 4096u

enum zipc_rpc_flags {
    ZIPC_RPC_IDEMPOTENT = 1u << 0, /* may run again on another worker if its worker dies */
};

/* zipc_rpc_reply.flags */
enum zipc_rpc_reply_flags {
    ZIPC_RPC_REPLY_MORE = 1u << 0, /* a part of a streamed reply: the call goes on after its release */
};

/* How a new service is laid out (ignored when it exists already). NULL or
 * zeroed: defaults (a lane of ZIPC_QUEUE_DEFAULT_LANE bytes per client). */
struct zipc_rpc_config {
    uint64_t lane_capacity;
    uint32_t reserved[2]; /* 0 */
};

/* Attach to the service `name` as a worker or a client, creating it if it
 * does not exist (a name, not a path). -EPROTOTYPE: the name is a queue. */
int zipc_rpc_serve(zipc_rpc_worker **out, const char *name, const struct zipc_rpc_config *cfg,
                   const struct zipc_options *opts);
int zipc_rpc_connect(zipc_rpc_client **out, const char *name, const struct zipc_rpc_config *cfg,
                     const struct zipc_options *opts);

/* ---- client ------------------------------------------------------------------
 * reserve: room for a request of `size` bytes (written at *buf) with a reply
 *          of up to reply_capacity bytes; waits (timeout_ns) for lane space.
 * commit:  sends the reserved request (size <= reserved) as method `method`
 *          with enum zipc_rpc_flags, due within timeout_ns; *id is its call id.
 *          A commit that fails leaves the reservation open: commit again
 *          or abort.
 * abort:   drop the open reservation (-EINVAL if there is none).
 * call:    reserve + copy + commit.
 * wait:    the reply of call `id`, or of any call (ZIPC_RPC_ANY), up to
 *          timeout_ns. 0: *reply describes it (status: the worker's, or
 *          -ECONNRESET / -ETIMEDOUT / -ECANCELED from the service). A call's
 *          own deadline passing is -ETIMEDOUT for that call (it is cancelled;
 *          reply->id names it; a reply found after the deadline is
 *          late: the call is -ETIMEDOUT all the same). -EAGAIN /
 *          -ETIMEDOUT: no reply yet; -EAGAIN at once if no call is in
 *          flight (ZIPC_RPC_ANY).
 *          A part of a streamed reply has ZIPC_RPC_REPLY_MORE in flags: the
 *          call stays in flight; its next part or final reply comes after
 *          the part's release.
 * reply_release: give the frame back (a part: let the worker go on). Every
 *          reply and every part must be released, once: pass the struct
 *          wait filled (a part is named by its flags and number; one
 *          released already, or an older one, is -EINVAL and frees nothing).
 * cancel:  the call will not be answered (-EINVAL if it is not in flight).
 */
struct zipc_rpc_reply {
    uint64_t id;
    const void *data;   /* in the frame, read-only, 16-byte aligned */
    uint32_t size;
    uint32_t type;      /* the worker's reply type */
    int32_t status;     /* 0 or a negative errno */
    uint32_t method;
    uint32_t flags;     /* enum zipc_rpc_reply_flags */
    uint32_t part;      /* a part's number (1, 2, ...), 0 for the final reply */
};

int zipc_rpc_reserve(zipc_rpc_client *c, size_t size, size_t reply_capacity, void **buf, int64_t timeout_ns);
int zipc_rpc_commit(zipc_rpc_client *c, size_t size, uint32_t method, unsigned flags, int64_t timeout_ns,
                    uint64_t *id);
int zipc_rpc_abort(zipc_rpc_client *c);
int zipc_rpc_call(zipc_rpc_client *c, const void *req, size_t size, uint32_t method, unsigned flags,
                  size_t reply_capacity, int64_t timeout_ns, uint64_t *id);
int zipc_rpc_wait(zipc_rpc_client *c, uint64_t id, struct zipc_rpc_reply *reply, int64_t timeout_ns);
int zipc_rpc_reply_release(zipc_rpc_client *c, const struct zipc_rpc_reply *reply);
int zipc_rpc_cancel(zipc_rpc_client *c, uint64_t id);
/* Calls issued and not yet released. */
unsigned zipc_rpc_in_flight(const zipc_rpc_client *c);
int zipc_rpc_client_fd(zipc_rpc_client *c);
int zipc_rpc_client_interrupt(zipc_rpc_client *c);
int zipc_rpc_client_close(zipc_rpc_client *c);

/* ---- worker ------------------------------------------------------------------
 * next:    take the next request (waits up to timeout_ns). Requests whose
 *          caller cancelled, died or passed the deadline are never handed out.
 * respond: the reply, written at req->reply (up to req->reply_capacity bytes),
 *          with a status and a type; -EBADMSG if req is not held by this
 *          worker; -EBUSY for a reply with bytes while a streamed part is
 *          still out (see respond_part). A cancelled call's reply is
 *          dropped (0 all the same).
 * respond_part: one part of a streamed reply (not the final one), written
 *          at req->reply like a reply (up to req->reply_capacity bytes).
 *          Publishes it, then waits (timeout_ns) until the caller released
 *          it: on 0 the room is free for the next part or the final reply.
 *          -ECANCELED: the caller cancelled, left or passed the deadline;
 *          -ETIMEDOUT: not released in time (the part stays out: only a
 *          status-only final reply may follow, a reply with bytes is
 *          -EBUSY, until part_wait says it was released). Either way, end
 *          the call with zipc_rpc_respond.
 * part_wait: wait (timeout_ns) until the last part sent was released: 0 (at
 *          once if none is out), -ECANCELED, -ETIMEDOUT, -EAGAIN (timeout 0).
 * cancelled: 1 if the caller cancelled the call or its deadline passed.
 */
struct zipc_rpc_request {
    uint64_t id;
    const void *data;      /* the request, read-only */
    uint32_t size;
    uint32_t method;
    uint32_t flags;        /* enum zipc_rpc_flags */
    uint32_t attempt;      /* 1, or 2 for an idempotent call run again */
    int64_t deadline_ns;   /* CLOCK_MONOTONIC; INT64_MAX: none */
    void *reply;           /* where the reply goes */
    uint32_t reply_capacity;
    uint32_t lane_;        /* private */
};

int zipc_rpc_next(zipc_rpc_worker *w, struct zipc_rpc_request *req, int64_t timeout_ns);
int zipc_rpc_respond(zipc_rpc_worker *w, const struct zipc_rpc_request *req, size_t size, uint32_t type,
                   int32_t status);
int zipc_rpc_respond_part(zipc_rpc_worker *w, const struct zipc_rpc_request *req, size_t size, uint32_t type,
                          int64_t timeout_ns);
int zipc_rpc_part_wait(zipc_rpc_worker *w, const struct zipc_rpc_request *req, int64_t timeout_ns);
int zipc_rpc_cancelled(zipc_rpc_worker *w, const struct zipc_rpc_request *req);
int zipc_rpc_worker_fd(zipc_rpc_worker *w);
int zipc_rpc_worker_interrupt(zipc_rpc_worker *w);
/* Closing a worker that holds requests fails them (-ECONNRESET, or run
 * again if idempotent): as if it died. */
int zipc_rpc_worker_close(zipc_rpc_worker *w);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_RPC_H */
