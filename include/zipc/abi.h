/* zipc shared-memory and handshake ABI (see docs/ABI.md).
 *
 * Everything here is read by other processes, possibly built by another
 * compiler, language or zipc version: fixed-width little-endian fields,
 * offsets instead of pointers, explicit padding, and a _Static_assert on
 * every offset. Changing any of it changes ZIPC_ABI_MAJOR.
 */
#ifndef ZIPC_ABI_H
#define ZIPC_ABI_H

#include <stdint.h>

#ifdef __cplusplus
#define ZIPC_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define ZIPC_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/* Peers must agree on the major version exactly; the minor version only
 * adds meaning to reserved fields, so any minor interoperates. */
#define ZIPC_ABI_MAJOR 1
#define ZIPC_ABI_MINOR 5

#define ZIPC_SEGMENT_MAGIC UINT64_C(0x4745535f4350495a) /* "ZIPC_SEG" */
#define ZIPC_HELLO_MAGIC UINT64_C(0x4f4c45484350495a) /* "ZIPCHELO" */
#define ZIPC_WELCOME_MAGIC UINT64_C(0x434c45574350495a) /* "ZIPCWELC" */
#define ZIPC_ACK_MAGIC UINT64_C(0x4b43415f4350495a) /* "ZIPC_ACK" */

#define ZIPC_CACHE_LINE 64
/* Writers of different sides stay 128 bytes apart: the adjacent-line
 * prefetcher moves lines in pairs. */
#define ZIPC_SIDE_STRIDE 128
#define ZIPC_PAGE 4096

enum zipc_segment_kind {
    ZIPC_KIND_CHANNEL = 1,
    ZIPC_KIND_QUEUE = 2,
    ZIPC_KIND_TOPIC = 3,
    ZIPC_KIND_TENSOR_STORE = 4,
    ZIPC_KIND_TOPIC_BOARD = 5,   /* a topic's shared wake-up board */
    ZIPC_KIND_TOPIC_CURSOR = 6,  /* one topic subscriber's cursor */
    ZIPC_KIND_STORE_BOARD = 7,   /* a store name's board: the newest version */
};

/* ---- generic segment header, offset 0 of every segment --------------- */
struct zipc_segment_header {
    uint64_t magic;          /* ZIPC_SEGMENT_MAGIC */
    uint16_t abi_major;      /* ZIPC_ABI_MAJOR */
    uint16_t abi_minor;      /* ZIPC_ABI_MINOR */
    uint32_t kind;           /* enum zipc_segment_kind */
    uint64_t segment_size;   /* whole memfd size, equals fstat() size */
    uint32_t header_size;    /* sizeof(struct zipc_segment_header) */
    uint32_t flags;          /* reserved, 0 */
    uint64_t body_offset;    /* kind-specific control block */
    uint64_t body_size;
    uint32_t creator_pid;
    uint32_t creator_uid;
    uint64_t created_ns;     /* CLOCK_REALTIME at creation */
    char name[64];           /* NUL-terminated label (socket path) */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, magic) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, abi_major) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, abi_minor) == 10, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, kind) == 12, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, segment_size) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, header_size) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, flags) == 28, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, body_offset) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, body_size) == 40, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, creator_pid) == 48, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, creator_uid) == 52, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, created_ns) == 56, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_segment_header, name) == 64, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_segment_header) == 128, "abi");

/* ---- channel (kind 1) ------------------------------------------------
 * Segment: [segment header | channel control @ body_offset | ring @ ring_offset]
 * Positions are free-running byte counts (never wrap in practice: 2^64 B);
 * the ring offset of a position is pos & (ring_size - 1).
 */
#define ZIPC_CHANNEL_BODY_OFFSET 256
#define ZIPC_CHANNEL_RING_OFFSET ZIPC_PAGE
#define ZIPC_MIN_CAPACITY 128
#define ZIPC_MAX_CAPACITY (UINT64_C(1) << 32)

enum zipc_endpoint_state {
    ZIPC_STATE_NONE = 0,    /* not attached yet */
    ZIPC_STATE_ACTIVE = 1,
    ZIPC_STATE_CLOSED = 2,  /* closed cleanly */
};

/* One side's line: written only by that side. */
struct zipc_channel_side {
    uint64_t position;   /* producer: published end (informative); consumer: head, the
                            released end, which bounds the producer */
    uint64_t messages;   /* messages committed / released */
    uint64_t wakeups;    /* eventfd wake-ups this side sent */
    uint64_t sleeps;     /* kernel sleeps this side took */
    uint32_t pid;
    uint32_t state;      /* enum zipc_endpoint_state */
    uint8_t pad_[ZIPC_SIDE_STRIDE - 40];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_side, position) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_side, messages) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_side, wakeups) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_side, sleeps) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_side, pid) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_side, state) == 36, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_channel_side) == ZIPC_SIDE_STRIDE, "abi");

/* A sleeper's flag: set by the side about to sleep, exchanged to 0 by the
 * side that wakes it. Alone on its line so the waker's per-commit check is
 * an L1 hit while nobody sleeps. */
struct zipc_wait_flag {
    uint32_t sleeping;
    uint8_t pad_[ZIPC_SIDE_STRIDE - 4];
};
ZIPC_STATIC_ASSERT(sizeof(struct zipc_wait_flag) == ZIPC_SIDE_STRIDE, "abi");

struct zipc_channel_ctl {
    uint64_t ring_offset;    /* from segment start; ZIPC_CHANNEL_RING_OFFSET */
    uint64_t ring_size;      /* power of two, ZIPC_MIN_CAPACITY..ZIPC_MAX_CAPACITY */
    uint32_t max_message;    /* ring_size / 2 - ZIPC_FRAME_HEADER */
    uint32_t frame_align;    /* ZIPC_FRAME_ALIGN */
    uint32_t listener_role;  /* enum zipc_role of the listener */
    uint32_t reserved0;
    uint8_t pad0_[ZIPC_SIDE_STRIDE - 32];
    struct zipc_channel_side producer;
    struct zipc_channel_side consumer;
    struct zipc_wait_flag consumer_wait; /* consumer sleeps for data */
    struct zipc_wait_flag producer_wait; /* producer sleeps for space */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, ring_offset) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, ring_size) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, max_message) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, frame_align) == 20, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, listener_role) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, producer) == 128, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, consumer) == 256, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, consumer_wait) == 384, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_channel_ctl, producer_wait) == 512, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_channel_ctl) == 640, "abi");
ZIPC_STATIC_ASSERT(ZIPC_CHANNEL_BODY_OFFSET + sizeof(struct zipc_channel_ctl) <= ZIPC_CHANNEL_RING_OFFSET,
                   "abi");

/* Every message in the ring is a frame: a 16-byte header, the payload, and
 * padding to ZIPC_FRAME_ALIGN (one cache line, so consecutive frames never
 * share a line). A frame never straddles the ring's end: when the next frame
 * does not fit before the end, a pad frame fills the rest and the message
 * starts at ring offset 0.
 *
 * Publication is the frame's `mark`, written last (release): the consumer
 * polls the mark at its read position and needs no other shared line, and
 * reads a zero mark, or a header mark at most one lap old, as "not yet".
 * Before publishing a frame the producer makes sure the mark where it ends
 * is one of those: it writes a zero there (the "terminator") only where that
 * slot is not fresh, i.e. holds payload or pad interior of an earlier lap
 * rather than zero or the header it wrote there in its latest pass (see
 * docs/ABI.md §5.3). */
#define ZIPC_FRAME_HEADER 16
#define ZIPC_FRAME_ALIGN 64
#define ZIPC_FRAME_MSG 1u
#define ZIPC_FRAME_PAD 2u
/* mark = seq (low 32 bits of the message number, from 0) << 32 | kind; 0: not written */
#define ZIPC_FRAME_MARK(seq, kind) ((uint64_t)(uint32_t)(seq) << 32 | (uint32_t)(kind))

struct zipc_frame {
    uint32_t size;   /* payload bytes (0 for a pad) */
    uint32_t type;   /* user type id */
    uint64_t mark;   /* ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG or ZIPC_FRAME_PAD); a pad
                        carries the seq of the message after it */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_frame, size) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_frame, type) == 4, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_frame, mark) == 8, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_frame) == ZIPC_FRAME_HEADER, "abi");

/* ---- topic (kinds 3, 5, 6) ---------------------------------------------
 * A topic is three kinds of segment:
 *   data (kind 3): [segment header | topic control @ 256 | subscriber table |
 *     ring @ ring_offset]. Written by the publisher only: sealed
 *     F_SEAL_FUTURE_WRITE, every subscriber maps it read-only. The ring holds
 *     frames exactly as a channel's.
 *   board (kind 5, one page): the publisher's sleep flag and the subscribers'
 *     sleep hints; written by everyone.
 *   cursor (kind 6, one page per subscriber): that subscriber's head and
 *     sleep flag (written by it) and its start (written by the publisher).
 *     Only the publisher and that subscriber map it.
 */
#define ZIPC_TOPIC_BODY_OFFSET 256
#define ZIPC_TOPIC_PAGE_SEGMENT ZIPC_PAGE /* board and cursor segments: one page */

/* The oldest message still intact in the ring. Below `position` the
 * publisher may be writing: it stores a new oldest before it overwrites
 * anything older. {position, seq} is read under `version` (odd: being
 * written). */
struct zipc_topic_oldest {
    uint64_t version;
    uint64_t position;   /* a frame boundary */
    uint64_t seq;        /* the message number at position */
    uint8_t pad_[ZIPC_SIDE_STRIDE - 24];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_oldest, version) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_oldest, position) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_oldest, seq) == 16, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_topic_oldest) == ZIPC_SIDE_STRIDE, "abi");

struct zipc_topic_ctl {
    uint64_t ring_offset;      /* from segment start, page-aligned, after the table */
    uint64_t ring_size;        /* power of two, ZIPC_MIN_CAPACITY..ZIPC_MAX_CAPACITY */
    uint32_t max_message;      /* ring_size / 2 - ZIPC_FRAME_HEADER */
    uint32_t frame_align;      /* ZIPC_FRAME_ALIGN */
    uint32_t max_subscribers;  /* entries in the subscriber table, 1..4096 */
    uint32_t reserved0;
    uint8_t pad0_[ZIPC_SIDE_STRIDE - 32];
    struct zipc_channel_side publisher; /* position: published end; messages: committed */
    struct zipc_topic_oldest oldest;
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_ctl, ring_offset) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_ctl, ring_size) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_ctl, max_message) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_ctl, frame_align) == 20, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_ctl, max_subscribers) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_ctl, publisher) == 128, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_ctl, oldest) == 256, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_topic_ctl) == 384, "abi");

/* The subscriber table (after the control block): the publisher's view of
 * each slot, for tools. Informative only; nobody acts on it. */
enum zipc_topic_slot_state {
    ZIPC_TOPIC_SLOT_FREE = 0,
    ZIPC_TOPIC_SLOT_ACTIVE = 1,
};
struct zipc_topic_slot_info {
    uint32_t state;          /* enum zipc_topic_slot_state */
    uint32_t pid;
    uint32_t policy;         /* enum zipc_sub_policy */
    uint32_t reserved;
    uint64_t max_lag;
    uint64_t head;           /* the subscriber's head as the publisher last read it */
    uint64_t head_seq;
    uint64_t joined_ns;      /* CLOCK_REALTIME */
    uint8_t pad_[ZIPC_CACHE_LINE - 48];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_slot_info, state) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_slot_info, pid) == 4, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_slot_info, policy) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_slot_info, max_lag) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_slot_info, head) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_slot_info, head_seq) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_slot_info, joined_ns) == 40, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_topic_slot_info) == 64, "abi");
#define ZIPC_TOPIC_TABLE_OFFSET (ZIPC_TOPIC_BODY_OFFSET + 384)
#define ZIPC_TOPIC_RING_OFFSET(max_subscribers) \
    ((ZIPC_TOPIC_TABLE_OFFSET + (uint64_t)(max_subscribers) * 64 + ZIPC_PAGE - 1) & ~(uint64_t)(ZIPC_PAGE - 1))

/* board (kind 5), at ZIPC_TOPIC_BODY_OFFSET */
struct zipc_topic_board {
    struct zipc_wait_flag publisher_wait; /* the publisher sleeps for space */
    uint32_t sleepers;   /* bit (slot & 31): a subscriber of such a slot may sleep */
    uint32_t reserved;
    uint8_t pad_[ZIPC_SIDE_STRIDE - 8];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_board, publisher_wait) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_board, sleepers) == 128, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_topic_board) == 256, "abi");

/* cursor (kind 6), at ZIPC_TOPIC_BODY_OFFSET */
struct zipc_topic_cursor {
    struct zipc_channel_side side; /* subscriber: position = head (released end),
                                      messages = the head's message number */
    struct zipc_wait_flag wait;    /* subscriber: sleeps for data */
    /* the request, written by the subscriber before its ack */
    uint32_t policy;     /* enum zipc_sub_policy */
    uint32_t flags;      /* enum zipc_sub_flags */
    uint64_t max_lag;
    uint64_t history;
    /* written by the subscriber as it reports each loss (1.4), for tools */
    uint64_t lost_messages;
    uint64_t lost_bytes;
    uint64_t overflows;  /* -EOVERFLOW events */
    uint32_t bell;       /* nonzero: send the topic's bell with the "go"; wake me only through it (1.5) */
    uint32_t reserved1;
    uint8_t pad1_[ZIPC_SIDE_STRIDE - 56];
    /* written by the publisher */
    uint32_t slot;       /* the subscriber's slot */
    uint32_t evicted;    /* nonzero: evicted (an invalid cursor) */
    uint64_t start;      /* the position to start from, a frame boundary */
    uint64_t start_seq;  /* its message number */
    uint64_t gap;        /* history asked for but gone: messages */
    uint8_t pad2_[ZIPC_SIDE_STRIDE - 32];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, side) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, wait) == 128, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, policy) == 256, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, flags) == 260, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, max_lag) == 264, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, history) == 272, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, lost_messages) == 280, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, lost_bytes) == 288, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, overflows) == 296, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, bell) == 304, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, slot) == 384, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, evicted) == 388, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, start) == 392, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, start_seq) == 400, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_topic_cursor, gap) == 408, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_topic_cursor) == 512, "abi");

/* ---- member slots: liveness of N members (multi-party kinds) ---------
 * A kind with many members reserves a member table at a 64-byte-aligned
 * offset T of its segment: this header, then `capacity` slots. Slot i's
 * holder keeps an OFD read lock (F_OFD_SETLK, F_RDLCK) on byte
 * ZIPC_MEMBER_LOCK_BASE + T + i of the segment file, past any data, taken on
 * a description of its own (a private reopen of the memfd); the kernel drops
 * it when the holder dies. A slot's holder is dead when that byte is not
 * locked by anyone else, or when the pid in its lease has exited.
 * See docs/ABI.md §10 for the claim and release protocol. */
#define ZIPC_MEMBER_LOCK_BASE (UINT64_C(1) << 62)
#define ZIPC_MEMBERS_MAX 4096
/* lease = ZIPC_LEASE_BUSY | generation << 32 | pid; no BUSY bit: free. BUSY
 * with pid 0: being claimed (the claimer holds the lock already). */
#define ZIPC_LEASE_BUSY (UINT64_C(1) << 63)
#define ZIPC_LEASE_PID(l) ((uint32_t)(l))
#define ZIPC_LEASE_GEN(l) ((uint32_t)((l) >> 32) & 0x7fffffffu)

struct zipc_member_table {
    uint32_t capacity;   /* slots that follow, 1..ZIPC_MEMBERS_MAX */
    uint32_t slot_size;  /* sizeof(struct zipc_member_slot) */
    uint8_t pad_[ZIPC_CACHE_LINE - 8];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_member_table, capacity) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_member_table, slot_size) == 4, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_member_table) == 64, "abi");

/* One member; written only by the process claiming or releasing it. */
struct zipc_member_slot {
    uint64_t lease;      /* see ZIPC_LEASE_*; changed by compare-and-swap only */
    uint64_t pidns;      /* holder's pid namespace (inode of /proc/self/ns/pid), 0: unknown */
    uint64_t claimed_ns; /* CLOCK_REALTIME at the claim, informative */
    uint32_t uid;        /* holder's effective uid, informative */
    uint32_t reserved;   /* 0 */
    uint8_t pad_[ZIPC_CACHE_LINE - 32];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_member_slot, lease) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_member_slot, pidns) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_member_slot, claimed_ns) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_member_slot, uid) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_member_slot, reserved) == 28, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_member_slot) == 64, "abi");
#define ZIPC_MEMBER_TABLE_SIZE(capacity) \
    (sizeof(struct zipc_member_table) + (uint64_t)(capacity) * sizeof(struct zipc_member_slot))

/* ---- queue (kind 2) ----------------------------------------------------
 * One segment, mapped read-write by every member:
 *   [segment header | queue control @ 256 | consumer lines | member table |
 *    lane 0 | lane 1 | ... lane MAX_PRODUCERS-1]   (lanes page-aligned)
 * Member slots 0..MAX_PRODUCERS-1 are producers (slot p owns lane p), the
 * next MAX_CONSUMERS slots consumers. A lane:
 *   [producer side line | claim line | freed line | claim log (log_size
 *    words) | ring (ring_size bytes, page-aligned)]
 * The ring holds frames exactly as a channel's, written by the lane's
 * producer only. Consumers take frames through `claim` and the claim log;
 * the producer reuses space up to the first frame not released.
 * Packed positions (claim, freed): seq32 << 32 | (ring offset / 64).
 * Claim words: see ZIPC_QCLAIM_*; docs/ABI.md §13 has the protocol. */
#define ZIPC_QUEUE_BODY_OFFSET 256
#define ZIPC_QUEUE_SLOTS 64              /* MAX_PRODUCERS + MAX_CONSUMERS */
#define ZIPC_QUEUE_MAX_LANE (UINT64_C(1) << 30)
#define ZIPC_QUEUE_SEGMENT_RPC (1u << 16) /* ctl flags: an rpc service's segment, not a queue's */

/* claim word: tag (seq32) | state << 32 | attempt << 34 | cancel << 39 | slot << 40 | gen << 48 */
enum zipc_qclaim_state {
    ZIPC_QCLAIM_RELEASED = 0,   /* tag's frame was released (the entry is free for tag + log_size) */
    ZIPC_QCLAIM_CLAIMED = 1,    /* tag's frame is held by consumer `slot` of lease generation `gen` */
    ZIPC_QCLAIM_REDELIVER = 2,  /* its holder died: to be taken again */
    ZIPC_QCLAIM_REPLIED = 3,    /* rpc: the worker's reply is in the frame, for its caller to release */
};
#define ZIPC_QCLAIM_TAG(w) ((uint32_t)(w))
#define ZIPC_QCLAIM_STATE(w) ((uint32_t)((w) >> 32) & 3u)
#define ZIPC_QCLAIM_ATTEMPT(w) ((uint32_t)((w) >> 34) & 31u)
#define ZIPC_QCLAIM_CANCEL (UINT64_C(1) << 39) /* rpc: the caller cancelled (or gave up on) the call */
#define ZIPC_QCLAIM_SLOT(w) ((uint32_t)((w) >> 40) & 0xffu)
#define ZIPC_QCLAIM_GEN(w) ((uint32_t)((w) >> 48) & 0xffffu)
#define ZIPC_QCLAIM_MAX_ATTEMPT 31
#define ZIPC_QCLAIM_STATE_MASK (UINT64_C(3) << 32)
#define ZIPC_QCLAIM(tag, state, attempt, slot, gen)                                                \
    ((uint64_t)(uint32_t)(tag) | (uint64_t)(state) << 32 | (uint64_t)(attempt) << 34 |            \
     (uint64_t)(slot) << 40 | (uint64_t)(gen) << 48)
#define ZIPC_QPOS(seq, off) ((uint64_t)(uint32_t)(seq) << 32 | (uint32_t)((off) / ZIPC_FRAME_ALIGN))

struct zipc_queue_ctl {
    uint64_t lane_offset;      /* lane 0, from segment start, page-aligned */
    uint64_t lane_stride;      /* bytes per lane, page multiple */
    uint64_t ring_size;        /* per lane: power of two, ZIPC_MIN_CAPACITY..ZIPC_QUEUE_MAX_LANE */
    uint64_t ring_offset;      /* the ring, from its lane's start, page-aligned */
    uint32_t log_size;         /* claim words per lane: ring_size / ZIPC_FRAME_ALIGN */
    uint32_t flags;            /* enum zipc_queue_flags, and ZIPC_QUEUE_SEGMENT_RPC */
    uint32_t max_producers;    /* ZIPC_QUEUE_MAX_PRODUCERS */
    uint32_t max_consumers;    /* ZIPC_QUEUE_MAX_CONSUMERS */
    uint64_t members_offset;   /* the member table (ZIPC_QUEUE_SLOTS slots) */
    uint8_t pad0_[ZIPC_SIDE_STRIDE - 56];
    /* written by every member (compare-and-swap) */
    uint32_t lanes_open;       /* bit p: lane p's producer is attached */
    uint32_t producers_joined; /* nonzero once any producer has joined */
    uint32_t lane_hwm;         /* lanes [0, lane_hwm) have been used */
    uint32_t reserved1;
    uint8_t pad1_[ZIPC_SIDE_STRIDE - 16];
    uint32_t sleepers;         /* bit c: consumer c may sleep (set by it, cleared by wakers) */
    uint32_t reserved2;
    uint8_t pad2_[ZIPC_SIDE_STRIDE - 8];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, lane_offset) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, lane_stride) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, ring_size) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, ring_offset) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, log_size) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, flags) == 36, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, max_producers) == 40, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, max_consumers) == 44, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, members_offset) == 48, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, lanes_open) == 128, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, producers_joined) == 132, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, lane_hwm) == 136, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_ctl, sleepers) == 256, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_queue_ctl) == 384, "abi");

/* One consumer's line (after the control block), written by that consumer
 * except `sleeping` (exchanged to 0 by wakers) and, after its death, by
 * the member that cleans up after it. */
struct zipc_queue_consumer {
    uint32_t sleeping;     /* it is (about to be) asleep on its eventfd */
    uint32_t held;         /* frames it holds now (claimed, not released) */
    uint64_t messages;     /* released */
    uint64_t bytes;
    uint64_t redelivered;
    uint64_t wakeups;
    uint64_t sleeps;
    uint8_t pad_[ZIPC_CACHE_LINE - 48];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_consumer, sleeping) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_consumer, held) == 4, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_consumer, messages) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_consumer, bytes) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_consumer, redelivered) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_consumer, wakeups) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_consumer, sleeps) == 40, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_queue_consumer) == 64, "abi");
#define ZIPC_QUEUE_CONSUMERS_OFFSET (ZIPC_QUEUE_BODY_OFFSET + 384)
#define ZIPC_QUEUE_MEMBERS_OFFSET (ZIPC_QUEUE_CONSUMERS_OFFSET + 32 * 64)

/* A lane's control lines, at the lane's start. */
struct zipc_queue_lane {
    struct zipc_channel_side producer; /* position: published end; messages: committed;
                                          state: ACTIVE while attached */
    uint64_t claim;            /* ZIPC_QPOS of the next frame to take (compare-and-swap) */
    uint32_t redeliver;        /* claim words in state REDELIVER (a hint: may lag) */
    uint32_t reserved0;
    uint8_t pad0_[ZIPC_SIDE_STRIDE - 16];
    uint64_t freed;            /* ZIPC_QPOS up to which the producer may reuse the ring;
                                  stored before it writes there */
    uint32_t producer_sleeping; /* the producer is (about to be) asleep for space */
    uint32_t reserved1;
    uint8_t pad1_[ZIPC_SIDE_STRIDE - 16];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_lane, producer) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_lane, claim) == 128, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_lane, redeliver) == 136, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_lane, freed) == 256, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_queue_lane, producer_sleeping) == 264, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_queue_lane) == 384, "abi");
#define ZIPC_QUEUE_LOG_OFFSET 512 /* the claim log, from the lane's start */

/* ---- rpc (a queue segment whose ctl flags hold ZIPC_QUEUE_SEGMENT_RPC) -----
 * Clients own lanes, workers take requests as queue consumers. A request
 * frame's payload: this header (written by the client), the request at 64,
 * the reply at reply_offset (written by the worker holding the frame, with
 * reply_size, status and reply_type, before its claim word turns REPLIED).
 * docs/ABI.md §14. */
#define ZIPC_RPC_MAGIC 0x31435052u /* "RPC1" */
#define ZIPC_RPC_HEADER 64
struct zipc_rpc_header {
    uint32_t magic;          /* ZIPC_RPC_MAGIC */
    uint32_t method;
    uint32_t flags;          /* enum zipc_rpc_flags */
    uint32_t caller_gen;     /* the client's lease generation, low 16 bits */
    int64_t deadline_ns;     /* CLOCK_MONOTONIC; INT64_MAX: none */
    uint32_t request_size;
    uint32_t reply_offset;   /* from the payload's start: 64-aligned, >= 64 + request_size */
    uint32_t reply_capacity;
    uint32_t reply_size;     /* worker */
    int32_t status;          /* worker: 0 or a negative errno */
    uint32_t reply_type;     /* worker */
    uint32_t part_sent;      /* worker: parts of a streamed reply published (1.3) */
    uint32_t part_taken;     /* client: parts of it released (1.3) */
    uint32_t part_size;      /* worker: the last part's size (1.3) */
    uint32_t part_type;      /* worker: the last part's type (1.3) */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, magic) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, method) == 4, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, flags) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, caller_gen) == 12, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, deadline_ns) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, request_size) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, reply_offset) == 28, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, reply_capacity) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, reply_size) == 36, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, status) == 40, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, reply_type) == 44, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, part_sent) == 48, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, part_taken) == 52, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, part_size) == 56, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_rpc_header, part_type) == 60, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_rpc_header) == ZIPC_RPC_HEADER, "abi");

/* ---- tensor store (kind 4) ---------------------------------------------
 * One version of a store is one segment, filled by its publisher, then
 * sealed with F_SEAL_WRITE (nobody, the publisher included, writes again)
 * and mapped PROT_READ by every holder:
 *   [segment header | store ctl @ 128 | tensor table @ 256 (by name) |
 *    metadata table (by key) | strings | data @ data_offset (align) ]
 * Offsets are from the segment's start unless said otherwise; the
 * strings (names, metadata keys and values, each followed by a NUL) are
 * addressed from strings_offset. Tensors are C-contiguous, in name order
 * in the data area too, each at a multiple of align. docs/ABI.md §15. */
#define ZIPC_STORE_BODY_OFFSET 128
#define ZIPC_STORE_TABLE_OFFSET 256
#define ZIPC_STORE_MAGIC UINT64_C(0x524f54534350495a) /* "ZIPCSTOR" */
#define ZIPC_STORE_MAX_NDIM 8
#define ZIPC_STORE_MIN_ALIGN 64
#define ZIPC_STORE_MAX_ALIGN (UINT64_C(2) << 20)
#define ZIPC_STORE_MAX_TENSORS (UINT32_C(1) << 24)
#define ZIPC_STORE_MAX_META (UINT32_C(1) << 20)

struct zipc_store_ctl {
    uint64_t magic;          /* ZIPC_STORE_MAGIC */
    uint64_t version;        /* 1, 2, ...: the name's versions, in publishing order */
    uint32_t ntensors;       /* entries in the tensor table, <= ZIPC_STORE_MAX_TENSORS */
    uint32_t nmeta;          /* entries in the metadata table, <= ZIPC_STORE_MAX_META */
    uint32_t align;          /* data alignment: a power of two, 64 .. 2 MiB */
    uint32_t flags;          /* reserved, 0 */
    uint64_t table_offset;   /* ZIPC_STORE_TABLE_OFFSET */
    uint64_t meta_offset;    /* table_offset + ntensors * 192 */
    uint64_t strings_offset; /* meta_offset + nmeta * 32 */
    uint64_t strings_size;
    uint64_t data_offset;    /* strings_offset + strings_size, aligned up to align */
    uint64_t data_size;      /* data_offset + data_size <= segment size */
    uint8_t reserved[48];    /* 0 */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, magic) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, version) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, ntensors) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, nmeta) == 20, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, align) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, flags) == 28, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, table_offset) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, meta_offset) == 40, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, strings_offset) == 48, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, strings_size) == 56, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, data_offset) == 64, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, data_size) == 72, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_ctl, reserved) == 80, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_store_ctl) == 128, "abi");
ZIPC_STATIC_ASSERT(ZIPC_STORE_BODY_OFFSET + sizeof(struct zipc_store_ctl) == ZIPC_STORE_TABLE_OFFSET, "abi");

/* One tensor. Names: UTF-8, no NUL, unique; the table is sorted by name
 * (bytewise, a prefix first). */
struct zipc_store_entry {
    uint64_t name_offset;    /* from strings_offset; name_len bytes, then a NUL */
    uint32_t name_len;       /* >= 1 */
    uint32_t dtype;          /* enum zipc_store_dtype (zipc/store.h) */
    uint32_t ndim;           /* 0 (a scalar) .. ZIPC_STORE_MAX_NDIM */
    uint32_t flags;          /* reserved, 0 */
    uint64_t data_offset;    /* a multiple of align, inside [data_offset, +data_size) of the ctl */
    uint64_t nbytes;         /* elements * bits / 8 */
    uint64_t xxh3;           /* XXH3-64 (seed 0) of the nbytes of data */
    int64_t shape[ZIPC_STORE_MAX_NDIM];   /* >= 0; entries >= ndim are 0 */
    int64_t strides[ZIPC_STORE_MAX_NDIM]; /* in elements, C order; entries >= ndim are 0 */
    uint8_t reserved[16];    /* 0 */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, name_offset) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, name_len) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, dtype) == 12, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, ndim) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, flags) == 20, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, data_offset) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, nbytes) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, xxh3) == 40, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, shape) == 48, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, strides) == 112, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_entry, reserved) == 176, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_store_entry) == 192, "abi");

/* One __metadata__ pair of the source (or the publisher's), sorted by key.
 * Keys: UTF-8, no NUL, unique. Values: UTF-8, may hold NUL (use value_len). */
struct zipc_store_meta {
    uint64_t key_offset;     /* from strings_offset; key_len bytes, then a NUL */
    uint64_t value_offset;   /* from strings_offset; value_len bytes, then a NUL */
    uint32_t key_len;        /* >= 1 */
    uint32_t value_len;
    uint8_t reserved[8];     /* 0 */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_meta, key_offset) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_meta, value_offset) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_meta, key_len) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_meta, value_len) == 20, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_meta, reserved) == 24, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_store_meta) == 32, "abi");

/* A store name's board (kind 7): one small read-write segment shared by
 * every holder of every version of the name, handed out with the version
 * by each door. `latest` is the newest version published (compare-and-swap
 * by publishers, who hold the name's lock); holders of an older one stop
 * serving the name. */
#define ZIPC_STORE_BOARD_SIZE ZIPC_PAGE
struct zipc_store_board {
    uint64_t latest;         /* the newest version published under the name */
    uint64_t publishes;      /* versions published (informative) */
    uint8_t pad_[ZIPC_CACHE_LINE - 16];
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_board, latest) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_store_board, publishes) == 8, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_store_board) == 64, "abi");

/* ---- handshake messages over the Unix stream socket ----------------- */

/* connector -> listener, first bytes on the connection */
struct zipc_hello {
    uint64_t magic;      /* ZIPC_HELLO_MAGIC */
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t kind;       /* segment kind the connector expects */
    uint32_t pid;
    uint32_t reserved;
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_hello, abi_major) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_hello, kind) == 12, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_hello, pid) == 16, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_hello) == 24, "abi");

/* listener -> connector. status 0: accepted, and the message carries by
 * SCM_RIGHTS, in order: the sealed memfd, the consumer's wake eventfd and the
 * producer's wake eventfd. status != 0: refused with that errno, no fds. */
struct zipc_welcome {
    uint64_t magic;      /* ZIPC_WELCOME_MAGIC */
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t status;     /* 0 or a positive errno (EPROTO, EPERM, ...) */
    uint32_t kind;
    uint32_t connector_role; /* enum zipc_role */
    uint64_t segment_size;
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_welcome, abi_major) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_welcome, status) == 12, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_welcome, kind) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_welcome, connector_role) == 20, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_welcome, segment_size) == 24, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_welcome) == 32, "abi");

/* connector -> listener: the segment was validated (status 0) or not. */
struct zipc_ack {
    uint64_t magic;      /* ZIPC_ACK_MAGIC */
    uint32_t status;     /* 0 or a positive errno (EBADMSG, ...) */
    uint32_t reserved;
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_ack, status) == 8, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_ack) == 16, "abi");

#endif /* ZIPC_ABI_H */
