/* Shared by the libFuzzer harnesses: an input cursor, channel segment
 * images, fd helpers, the per-input fd-leak check and the bounds checks
 * every harness asserts. */
#ifndef ZIPC_FUZZ_COMMON_H
#define ZIPC_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant of the library was violated: print it and trap, so that
 * libFuzzer saves the input as a crash. */
void fz_fail(const char *what, const char *file, int line) __attribute__((noreturn));
#define FZ_CHECK(c) ((c) ? (void)0 : fz_fail(#c, __FILE__, __LINE__))

/* A call refused for misuse (-EINVAL) or with the endpoint's sticky error. */
bool fz_refused(int r);

/* ---- input cursor: reads past the end give zeros ---------------------- */
struct fz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}
static inline uint16_t fz_u16(struct fz_in *in) { return (uint16_t)(fz_u8(in) | fz_u8(in) << 8); }
static inline uint32_t fz_u32(struct fz_in *in) { return fz_u16(in) | (uint32_t)fz_u16(in) << 16; }
static inline uint64_t fz_u64(struct fz_in *in) { return fz_u32(in) | (uint64_t)fz_u32(in) << 32; }
/* Copy up to max input bytes to dst; returns how many. */
size_t fz_take(struct fz_in *in, void *dst, size_t max);
/* A message size around the interesting values 0, max_message and beyond. */
uint32_t fz_msg_size(struct fz_in *in, uint32_t max_message);

/* ---- channel segment images ------------------------------------------ */
#define FZ_MAX_RING 4096u
#define FZ_MAX_SEGMENT (ZIPC_CHANNEL_RING_OFFSET + FZ_MAX_RING)
#define FZ_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) /* what a listener adds */

static inline struct zipc_segment_header *fz_header(uint8_t *seg) { return (void *)seg; }
static inline struct zipc_channel_ctl *fz_ctl(uint8_t *seg)
{
    return (void *)(seg + ZIPC_CHANNEL_BODY_OFFSET);
}
/* Write a valid channel segment image (what zipc_channel_listen creates)
 * that announces seg_size bytes and a ring of ring_size bytes; img must
 * hold at least ZIPC_CHANNEL_RING_OFFSET bytes, the rest is not touched. */
void fz_image_build(uint8_t *img, uint64_t seg_size, uint64_t ring_size);

/* ---- fds ------------------------------------------------------------- */
/* A memfd of `size` bytes holding the first min(len, size) bytes of img,
 * with `seals` added (none if !sealable); -1 on failure. */
int fz_memfd(const void *img, size_t len, size_t size, unsigned seals, bool sealable);
int fz_eventfd(void);
void fz_close(int *fd); /* closes when >= 0 and sets -1 */
void fz_close_all(int *fds, int n);
/* Open fds of this process (one getdents pass over /proc/self/fd). */
int fz_fd_count(void);
/* Keep stderr quiet and make SIGPIPE a crash libFuzzer can report. */
void fz_setup(void);

/* zipc__channel_adopt as zipc_channel_connect calls it: takes fds[3] and
 * sock whatever happens (closes what the channel did not take); with ack,
 * also acks the result on sock like the connector does. */
int fz_adopt(zipc_channel **out, int fds[3], int role, int sock, int pid, uint64_t announced,
             bool ack, int64_t spin_ns);
/* Options of a connector with short timeouts, spinning spin_ns (0: none). */
void fz_opts(struct zipc__opts *o, int64_t spin_ns);

/* ---- where the library mapped the segment ----------------------------
 * The fuzz targets link with -Wl,--wrap=mmap: this is the library's last
 * shared mapping of an fd. */
struct fz_map {
    uint8_t *base;
    size_t len;
};
extern struct fz_map fz_last_map;

/* One endpoint's ring as the library mapped it. */
struct fz_ring {
    const uint8_t *base;
    uint64_t size;
    uint32_t max_message;
};
/* The ring of the endpoint adopted last. */
struct fz_ring fz_ring_of_last_map(uint64_t ring_size);
/* A message or reservation must lie inside the ring after its frame
 * header, FZ_DATA_ALIGN-aligned (zipc.h) and no larger than max_message. */
#define FZ_DATA_ALIGN 16
void fz_check_span(const struct fz_ring *r, const void *data, size_t size);

/* -EBADMSG breaks an endpoint for good: once *broken, r must be -EBADMSG
 * too. Returns r. */
int fz_sticky(bool *broken, int r);

/* Bounded non-blocking traffic on a freshly adopted endpoint. */
void fz_consume_some(zipc_channel *ch, const struct fz_ring *r, unsigned rounds);
void fz_produce_some(zipc_channel *ch, const struct fz_ring *r, uint8_t seed, unsigned rounds);

/* ---- seed corpora ----------------------------------------------------
 * With ZIPC_FUZZ_WRITE_SEEDS=dir in the environment, a harness writes its
 * seeds there (fz_seeds_dir() returns it, else NULL) and exits. */
const char *fz_seeds_dir(void);
void fz_seed_write(const char *dir, const char *name, const void *data, size_t len);
/* A seed built byte by byte: fz_seed_put(&sd, n, b1, ..., bn) appends n bytes (ints). */
struct fz_seed {
    uint8_t b[512];
    size_t n;
};
void fz_seed_put(struct fz_seed *sd, int n, ...);

/* ---- the harness -----------------------------------------------------
 * FZ_HARNESS(write_seeds, setup, run) defines libFuzzer's two entry points:
 * once, fz_setup(), then with ZIPC_FUZZ_WRITE_SEEDS write_seeds(dir) and
 * exit, else setup(); per input, run(data, size), which must leave no fd
 * open behind it. */
#define FZ_HARNESS(write_seeds, setup, run)                                                     \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                           \
    {                                                                                           \
        (void)argc;                                                                             \
        (void)argv;                                                                             \
        fz_setup();                                                                             \
        if (fz_seeds_dir()) {                                                                   \
            write_seeds(fz_seeds_dir());                                                        \
            exit(0);                                                                            \
        }                                                                                       \
        setup();                                                                                \
        return 0;                                                                               \
    }                                                                                           \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                \
    {                                                                                           \
        int before = fz_fd_count();                                                             \
        run(data, size);                                                                        \
        FZ_CHECK(fz_fd_count() == before);                                                      \
        return 0;                                                                               \
    }

#endif /* ZIPC_FUZZ_COMMON_H */
