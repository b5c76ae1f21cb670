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
 *   Blocking and allocation: none (a few system calls: fstat, fcntl, mmap).
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

struct zipc_segment_info {
    /* ---- generic: every kind ---- */
    uint32_t kind;          /* enum zipc_segment_kind (may be one this build does not know) */
    uint16_t abi_major, abi_minor;
    uint64_t segment_size;
    uint64_t body_offset, body_size;
    uint32_t creator_pid, creator_uid;
    uint64_t created_ns;    /* CLOCK_REALTIME */
    uint32_t seals;         /* F_GET_SEALS */
    uint32_t detail;        /* ZIPC_INSPECT_CHANNEL when .channel is filled, else 0 */
    char label[64];         /* NUL-terminated */
    /* ---- kind-specific ---- */
    struct {
        uint64_t ring_size;
        uint64_t ring_used;   /* published but not yet released bytes, 0..ring_size */
        uint32_t max_message;
        uint32_t listener_role; /* enum zipc_role */
        struct zipc_inspect_side producer, consumer;
    } channel;
};
#define ZIPC_INSPECT_CHANNEL 1u

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
