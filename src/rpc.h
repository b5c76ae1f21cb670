/* Rpc internals (include/zipc/rpc.h is the API): an rpc service is a queue
 * segment flagged ZIPC_QUEUE_SEGMENT_RPC; a client is its lane's producer
 * (rpc_client.c), a worker a consumer (rpc_worker.c). The reply is written
 * into the request's frame (docs/DESIGN.md §13, docs/ABI.md §14). */
#ifndef ZIPC_RPC_INTERNAL_H
#define ZIPC_RPC_INTERNAL_H

#include "queue.h"
#include "zipc/rpc.h"

/* A call id: the caller's lease generation and the frame's seq in its lane. */
static inline uint64_t rpc_id(uint32_t gen, uint32_t seq) { return (uint64_t)gen << 32 | seq; }
static inline uint32_t rpc_id_seq(uint64_t id) { return (uint32_t)id; }
static inline uint32_t rpc_id_gen(uint64_t id) { return (uint32_t)(id >> 32); }

static inline struct zipc_rpc_header *rpc_header(const struct zipc_msg *m)
{
    return (struct zipc_rpc_header *)m->data;
}

/* The service's queue endpoint in `role` (a client: producer, a worker:
 * consumer), created if need be. */
int zipc__rpc_open(zipc_queue **q, const char *name, int role, const struct zipc_rpc_config *cfg,
                   const struct zipc_options *opts);

/* The header of a request frame of `frame_size` payload bytes, as read once
 * into *h: 0, or -EBADMSG if its fields do not fit the frame. */
int zipc__rpc_header_check(const struct zipc_rpc_header *shared, uint32_t frame_size, struct zipc_rpc_header *h);

/* The endpoints' queues (for the fuzzer's bounds checks). */
zipc_queue *zipc__rpc_client_queue(zipc_rpc_client *c);
zipc_queue *zipc__rpc_worker_queue(zipc_rpc_worker *w);

#endif /* ZIPC_RPC_INTERNAL_H */
