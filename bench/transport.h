/* zipc bench: a transport is what a row measures (zipc, pipe, Unix socket,
 * the cache-line floor). The drivers in rtt.c and stream.c only call these
 * operations, so every row runs the same loop, timer and checks. */
#ifndef ZIPC_BENCH_TRANSPORT_H
#define ZIPC_BENCH_TRANSPORT_H

#include <string.h>
#include <sys/types.h>

#include "bench.h"
#include "../src/cpu.h" /* zipc__cpu_relax: the library's own spin hint */

enum side { SIDE_PARENT = 0, SIDE_CHILD = 1 }; /* the parent measures */
enum mode { MODE_RTT, MODE_STREAM };          /* stream: child produces, parent consumes */

/* Stream consumer's view of a byte stream (pipe, socket): reassembles the
 * first and last 8 bytes of each message across reads. */
struct scan {
    size_t pos;                 /* bytes of the current message seen */
    uint8_t head[8], tail[8];
};

/* One end of a transport, in one process. The driver zeroes it and sets the
 * common part; each transport's setup initialises its own fields. */
struct link {
    const struct transport *t;
    enum side side;
    enum mode mode;
    size_t size;                /* message bytes */
    uint64_t expect;            /* consumer: next sequence number */
    char tag[48];               /* unique per row and run: socket paths */

    /* zipc */
    size_t capacity;            /* ring bytes */
    unsigned batch;             /* messages per publish; 1: commit each */
    unsigned staged;
    zipc_channel *tx, *rx;
    char path[2][96];           /* [0] child->parent, [1] parent->child */
    struct zipc_msg msgs[BENCH_MAX_BATCH];
    void *cpp;                  /* zipc-cpp: the C++ transport's channels (transport_cpp.cpp) */
    zipc_rpc_client *rpc_client; /* rpc rows (rpc.c): the parent's end */
    zipc_rpc_worker *rpc_worker; /* the child's */

    /* pipe / Unix socket */
    int fd[4];                  /* setup's descriptors, before each side keeps its own */
    int rfd, wfd;
    uint8_t *buf;               /* receive buffer */
    size_t buf_len;
    struct scan scan;

    /* floor */
    void *map;
    uint64_t *mine, *peer;      /* the two spun-on lines, 128 bytes apart */
    uint64_t last;              /* last value seen in *peer */
    bool yield;                 /* one CPU for both sides: spinning would only burn the slice */
    uint8_t msg[BENCH_RTT_SIZE];
};

struct transport {
    const char *name;
    int (*setup)(struct link *l);   /* in the parent, before fork (may be NULL) */
    int (*open)(struct link *l);    /* in each process after fork; l->side set */
    int (*close)(struct link *l);   /* each process; safe after a failed open or setup */
    /* Send one message of l->size bytes (the producer fills it from msg). */
    int (*send)(struct link *l, const void *msg);
    /* RTT: the next message, valid until release. */
    int (*recv)(struct link *l, const void **msg);
    int (*release)(struct link *l); /* may be NULL */
    int (*flush)(struct link *l);   /* producer, end of stream; may be NULL */
    /* Stream consumer: take what is there (waiting for something), verify
     * it; returns the count of whole messages (>= 0), -EPIPE at the end. */
    int (*take)(struct link *l);
    long long (*sleeps)(const struct link *l); /* kernel sleeps; may be NULL */
};

extern const struct transport transport_zipc, transport_zipc_batch, transport_pipe, transport_unix,
    transport_floor;
#ifdef ZIPC_BENCH_CPP
/* The zipc rows' operations written with the C++ binding (zipc.hpp). */
extern const struct transport transport_zipc_cpp;
#endif

/* zipc transports' setup: the link's two socket paths, from its tag. */
int zipc_link_setup(struct link *l);

/* Every message carries its sequence number in its first and last 8 bytes:
 * the consumer checks both, so the payload really crossed end to end. */
static inline void msg_stamp(uint8_t *p, size_t size, uint64_t seq)
{
    memcpy(p, &seq, sizeof(seq));
    memcpy(p + size - sizeof(seq), &seq, sizeof(seq));
}

static inline bool msg_ok(const uint8_t *head, const uint8_t *tail, uint64_t seq)
{
    uint64_t a, b;
    memcpy(&a, head, sizeof(a));
    memcpy(&b, tail, sizeof(b));
    return a == seq && b == seq;
}

/* msg.c: the sum of every 8-byte word of a message (size a multiple of 8). */
uint64_t msg_words_sum(const uint8_t *p, size_t size);
/* A source message of `size` bytes (a multiple of 8, >= 16; 64-byte aligned,
 * free() it): distinct pseudo-random words (xorshift64 from seed), both
 * stamp words zero, so the checksum of message `seq` is *base + 2 * seq.
 * `what` names the rows in the error text. */
int msg_source(const char *what, size_t size, uint64_t seed, uint8_t **src, uint64_t *base);

/* Verify the next expected message at p (l->size bytes) and advance. */
int link_check(struct link *l, const void *p);

/* ---- link.c: the two ends in two processes ------------------------------ */

/* What the child tells the parent when it is done (through a pipe). */
struct pair_report {
    int32_t err;
    uint64_t count;             /* stream: messages the producer sent */
    long long sleeps;           /* transport's kernel sleeps, -1: n/a */
    char error[192];
};

/* One side's work, after the link is open. ctx is the driver's. */
typedef int (*side_fn)(struct link *l, const struct bench_opts *o, void *ctx,
                       struct pair_report *rep);

/* setup, fork; the child pins itself to o->cpu[1], opens its end and runs
 * child_fn; the parent (already on o->cpu[0]) opens its end and runs
 * parent_fn. The child is always reaped: killed if the parent's side failed
 * or the row outlived budget_s. Returns 0 or a negative errno, with
 * bench_error() saying what failed on which side. child_rep and *sleeps
 * (both sides' total, -1 if the transport has none) are filled in. */
int pair_run(struct link *l, const struct bench_opts *o, unsigned budget_s, side_fn parent_fn,
             side_fn child_fn, void *ctx, struct pair_report *child_rep, long long *sleeps);

/* The pieces of pair_run other drivers with more processes use (topic.c):
 * SIGPIPE ignored and SIGALRM interrupting blocking calls (a child puts it
 * back to its default); whether that alarm fired; reaping a child, killing
 * it if the alarm interrupts the wait. Returns the wait status (-1: none). */
void link_signals_setup(void);
bool link_watchdog_fired(void);
int link_reap(pid_t pid);

#endif /* ZIPC_BENCH_TRANSPORT_H */
