/* zipc — zero-copy inter-process communication over shared memory.
 *
 * The umbrella header: what every kind shares (zipc/common.h) and one header
 * per kind, each opening with its contract (who may call concurrently, what
 * blocks, what allocates).
 *   zipc/channel.h   SPSC: one producer, one consumer
 *   zipc/inspect.h   a read-only look at any segment, for tools
 *   zipc/topic.h     one publisher, many subscribers
 *   zipc/queue.h     many producers, many consumers, each message taken once
 *   zipc/rpc.h       many clients, a pool of workers, replies in any order
 *   zipc/stream.h    the same typed messages framed over any byte stream
 *   zipc/tensor.h, zipc/types.h   payload conventions (header-only)
 */
#ifndef ZIPC_H
#define ZIPC_H

#include "zipc/abi.h"
#include "zipc/common.h"
#include "zipc/channel.h"
#include "zipc/inspect.h"
#include "zipc/topic.h"
#include "zipc/queue.h"
#include "zipc/rpc.h"
#include "zipc/stream.h"
#include "zipc/store.h"

#endif /* ZIPC_H */
