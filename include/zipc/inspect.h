/* zipc inspect: a read-only look at any zipc segment, for tools (zipc ls,
 * zipc stat) and debugging. The one parser of segments outside an endpoint:
 * tools call it, they never read the layout themselves.
 *
 * Contract
 *   Concurrency: any thread, any time; calls share no state. The segment may
 *     be live: counters are a snapshot, each field read once (they may be
 *     mutually a little stale, never torn).
 *   Effect on the object: none. The segment is validated as an attach does
 *     (type, seals, size, magic, ABI major, layout), mapped PROT_READ without
 *     pre-faulting and unmapped before returning; no member slot is taken,
 *     nobody is woken, nothing is written.
 *   Trust: the segment may be hostile or truncated; every value is checked
 *     before use and a bad one gives a negative errno, never a crash.
 *   Blocking and allocation: none (a few system calls: fstat, fcntl, mmap;
 *     for a queue's members F_OFD_GETLK and pidfd_open, as a member's own
 *     liveness check, which takes no lock).
 *   Kinds: the generic part for any segment; `detail` says which
 *     kind-specific part was filled (a segment whose kind-specific layout
 *     does not check out keeps detail 0: the generic part still shows).
 */
#ifndef ZIPC_INSPECT_H
#define ZIPC_INSPECT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* One side of a channel, as its writer last stored it. */
struct zipc_inspect_side {
    uint64_t messages;  /* committed (producer) / released (consumer) */
    uint64_t bytes;     /* ring position: published end / released end */
    uint64_t wakeups;   /* eventfd wake-ups this side sent */
    uint64_t sleeps;    /* kernel sleeps this side took */
    uint32_t pid;       /* 0 before it attached */
    uint32_t state;     /* enum zipc_endpoint_state */
};

/* A topic subscriber as the publisher's table shows it (its head as the
 * publisher last read it: a hint; the subscriber's cursor page is exact). */
struct zipc_inspect_subscriber {
    uint32_t slot;
    uint32_t pid;
    uint32_t policy;    /* enum zipc_sub_policy */
    uint32_t reserved;
    uint64_t max_lag;
    uint64_t head_seq;  /* the next message it will read */
    uint64_t joined_ns; /* CLOCK_REALTIME */
};
#define ZIPC_INSPECT_MAX_SUBSCRIBERS 64 /* table entries listed; .subscribers counts them all */

/* A topic's data segment (kind ZIPC_KIND_TOPIC). */
struct zipc_inspect_topic {
    uint64_t ring_size;
    uint32_t max_message;
    uint32_t max_subscribers;
    struct zipc_inspect_side publisher; /* messages: committed; bytes: ring bytes published */
    uint64_t oldest_seq;                /* the oldest message still in the ring */
    uint32_t subscribers;               /* active table slots */
    uint32_t listed;                    /* entries of sub[] filled, the first active slots */
    struct zipc_inspect_subscriber sub[ZIPC_INSPECT_MAX_SUBSCRIBERS];
};

/* One subscriber's cursor page (kind ZIPC_KIND_TOPIC_CURSOR), held by it and
 * by the publisher; its label and creator are the topic's. */
struct zipc_inspect_cursor {
    struct zipc_inspect_side side; /* messages: the head's message number; bytes: the head */
    uint32_t slot;                 /* its slot in the topic's table */
    uint32_t policy;               /* enum zipc_sub_policy, as requested */
    uint32_t flags;                /* enum zipc_sub_flags */
    uint32_t evicted;              /* nonzero: evicted by the publisher */
    uint64_t max_lag;
    uint64_t gap;                  /* history asked for but gone, messages */
    uint64_t lost_messages;        /* lost to overflow so far (0 from a subscriber before ABI 1.4) */
    uint64_t lost_bytes;
    uint64_t overflows;            /* -EOVERFLOW events */
};

/* A member slot of a multi-party object (liveness: lock held and pid running). */
struct zipc_inspect_member {
    uint32_t pid;   /* the lease's pid (0: free, or being claimed) */
    uint32_t alive; /* 1: its holder lives; 0: free or dead */
};

/* A queue's lane: one producer (an rpc client). */
struct zipc_inspect_lane {
    struct zipc_inspect_side producer; /* messages: committed; bytes: ring bytes published */
    struct zipc_inspect_member member;
    uint32_t queued;    /* committed, not yet taken by a consumer (at most a lap) */
    uint32_t redeliver; /* frames waiting to be taken again (a hint) */
};

/* A queue's consumer (an rpc worker). */
struct zipc_inspect_consumer {
    uint64_t messages;  /* released */
    uint64_t bytes;
    uint64_t redelivered;
    uint64_t wakeups;
    uint64_t sleeps;
    uint32_t held;      /* frames it holds now */
    uint32_t sleeping;
    struct zipc_inspect_member member;
};

#define ZIPC_INSPECT_QUEUE_LANES 32     /* ZIPC_QUEUE_MAX_PRODUCERS */
#define ZIPC_INSPECT_QUEUE_CONSUMERS 32 /* ZIPC_QUEUE_MAX_CONSUMERS */

/* A queue or an rpc service (kind ZIPC_KIND_QUEUE). */
struct zipc_inspect_queue {
    uint64_t ring_size;  /* per lane */
    uint32_t flags;      /* enum zipc_queue_flags (| ZIPC_QUEUE_SEGMENT_RPC) */
    uint32_t lanes_open; /* bit p: lane p's producer is attached */
    uint32_t lane_hwm;   /* lanes [0, lane_hwm) have been used: lane[] is filled up to it */
    uint32_t producers;  /* live producers (rpc: clients) */
    uint32_t consumers;  /* live consumers (rpc: workers) */
    uint32_t producers_joined;
    struct zipc_inspect_lane lane[ZIPC_INSPECT_QUEUE_LANES];
    struct zipc_inspect_consumer consumer[ZIPC_INSPECT_QUEUE_CONSUMERS];
};

/* One version of a tensor store (kind ZIPC_KIND_TENSOR_STORE), filled only
 * when the segment is sealed against writes and its table checks out as an
 * opener checks it. */
struct zipc_inspect_store {
    uint64_t version;       /* 1, 2, ...: of the name */
    uint64_t tensor_bytes;  /* the tensors' sizes summed */
    uint64_t data_size;     /* the data area (alignment padding included) */
    uint32_t tensors;
    uint32_t metadata;      /* metadata pairs */
    uint32_t align;         /* of each tensor's data */
    uint32_t reserved;
};

/* A store name's board (kind ZIPC_KIND_STORE_BOARD), shared by every
 * holder of every version of the name. */
struct zipc_inspect_store_board {
    uint64_t latest;        /* the newest version published */
    uint64_t publishes;     /* versions published (informative) */
};

struct zipc_segment_info {
    /* ---- generic: every kind ---- */
    uint32_t kind;          /* enum zipc_segment_kind (may be one this build does not know) */
    uint16_t abi_major, abi_minor;
    uint64_t segment_size;
    uint64_t body_offset, body_size;
    uint32_t creator_pid, creator_uid;
    uint64_t created_ns;    /* CLOCK_REALTIME */
    uint32_t seals;         /* F_GET_SEALS */
    uint32_t detail;        /* ZIPC_INSPECT_*: which kind-specific part is filled; 0: none */
    char label[64];         /* NUL-terminated (the name, unless the creator gave a label) */
    /* ---- kind-specific ---- */
    struct {
        uint64_t ring_size;
        uint64_t ring_used;   /* published but not yet released bytes, 0..ring_size */
        uint32_t max_message;
        uint32_t listener_role; /* enum zipc_role */
        struct zipc_inspect_side producer, consumer;
    } channel;              /* detail ZIPC_INSPECT_CHANNEL */
    union {
        struct zipc_inspect_topic topic;   /* detail ZIPC_INSPECT_TOPIC */
        struct zipc_inspect_cursor cursor; /* detail ZIPC_INSPECT_TOPIC_CURSOR */
        struct zipc_inspect_queue queue;   /* detail ZIPC_INSPECT_QUEUE or ZIPC_INSPECT_RPC */
        struct zipc_inspect_store store;   /* detail ZIPC_INSPECT_STORE */
        struct zipc_inspect_store_board store_board; /* detail ZIPC_INSPECT_STORE_BOARD */
    };
};
#define ZIPC_INSPECT_CHANNEL 1u
#define ZIPC_INSPECT_TOPIC 2u
#define ZIPC_INSPECT_TOPIC_CURSOR 3u
#define ZIPC_INSPECT_QUEUE 4u
#define ZIPC_INSPECT_RPC 5u
#define ZIPC_INSPECT_STORE 6u
#define ZIPC_INSPECT_STORE_BOARD 7u

/* Inspect the segment open at fd (not consumed; its offset is not used).
 * Returns 0, -EBADMSG (not a zipc segment, wrong seals, truncated or
 * inconsistent), -EPROTO (another ABI major), -EINVAL, or a system errno. */
int zipc_inspect_fd(int fd, struct zipc_segment_info *info);
/* The same for a path, typically "/proc/<pid>/fd/<n>" of a process holding
 * the segment (opened read-only; needs the right to read that process's
 * fds, e.g. the same uid). */
int zipc_inspect_path(const char *path, struct zipc_segment_info *info);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_INSPECT_H */
