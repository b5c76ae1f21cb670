/* Typed frames over a byte stream (include/zipc/stream.h; the format is in
 * docs/ABI.md, "Stream framing"). Everything read is the peer's: a header is
 * checked before its payload is read or allocated for, and the payload
 * buffer grows only with the bytes that have arrived. */
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "stream.h"

/* ---- CRC-32 (reflected 0xEDB88320), slicing by 8 --------------------- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) && defined(__GNUC__)
#define ZIPC__CRC_FOLD 1
#include <immintrin.h>

/* Carry-less multiplication folding (Intel, "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ", the bit-reflected variant): 16 bytes per
 * multiply instead of one table lookup per byte. The constants are powers of
 * x modulo the CRC-32 polynomial (bit-reflected, shifted by one):
 * x^(4*128+32), x^(4*128-32) for the 64-byte folds, x^(128+32), x^(128-32)
 * for the 16-byte folds, x^64 for the last 64 bits, then the polynomial and
 * its Barrett constant floor(x^64 / P). */
static bool crc_fold_ok; /* set once by crc_init (pthread_once orders it before every use) */

__attribute__((target("pclmul,sse2"))) static inline __m128i fold16(__m128i x, __m128i k, __m128i next)
{
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00), hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

static inline __m128i load16(const uint8_t *p) { return _mm_loadu_si128((const __m128i *)(const void *)p); }

/* The reflected CRC state c updated with p[0..n), n >= 64 and a multiple of 16. */
__attribute__((target("pclmul,sse2"))) static uint32_t crc_fold(uint32_t c, const uint8_t *p, size_t n)
{
    const __m128i k64 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
    const __m128i k16 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124);
    const __m128i poly = _mm_set_epi64x(0x1f7011641, 0x1db710641); /* Barrett constant, polynomial */
    const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i x0 = _mm_xor_si128(load16(p), _mm_cvtsi32_si128((int)c)), x1 = load16(p + 16),
            x2 = load16(p + 32), x3 = load16(p + 48);
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
        x0 = fold16(x0, k64, load16(p));
        x1 = fold16(x1, k64, load16(p + 16));
        x2 = fold16(x2, k64, load16(p + 32));
        x3 = fold16(x3, k64, load16(p + 48));
    }
    x0 = fold16(fold16(fold16(x0, k16, x1), k16, x2), k16, x3);
    for (; n >= 16; p += 16, n -= 16)
        x0 = fold16(x0, k16, load16(p));
    /* 128 -> 64 bits (appending the 32 zero bits of the CRC's definition) */
    x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), _mm_clmulepi64_si128(k16, x0, 0x01));
    __m128i rest = _mm_srli_si128(x0, 4);
    x0 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x0, low32), k5, 0x00), rest);
    /* Barrett reduction, 64 -> 32 bits */
    __m128i t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x0, low32), poly, 0x10), low32);
    x0 = _mm_xor_si128(_mm_clmulepi64_si128(t, poly, 0x00), x0);
    return (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(x0, 4));
}
#else
#define ZIPC__CRC_FOLD 0
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
        crc_table[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (uint32_t i = 0; i < 256; i++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
#if ZIPC__CRC_FOLD
    crc_fold_ok = __builtin_cpu_supports("pclmul");
#endif
}

uint32_t zipc_stream_crc32(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
#if ZIPC__CRC_FOLD
    if (crc_fold_ok && n >= 64) {
        size_t bulk = n & ~(size_t)15;
        c = crc_fold(c, p, bulk);
        p += bulk;
        n -= bulk;
    }
#endif
    for (; n >= 8; p += 8, n -= 8) { /* 8 bytes per step: one load, eight independent lookups */
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = crc_table[7][w & 0xFF] ^ crc_table[6][(w >> 8) & 0xFF] ^ crc_table[5][(w >> 16) & 0xFF] ^
            crc_table[4][(w >> 24) & 0xFF] ^ crc_table[3][(w >> 32) & 0xFF] ^
            crc_table[2][(w >> 40) & 0xFF] ^ crc_table[1][(w >> 48) & 0xFF] ^ crc_table[0][w >> 56];
    }
    while (n--)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xFF];
    return ~c;
}

/* ---- the header --------------------------------------------------------- */

static uint32_t header_crc(const struct zipc_stream_header *h)
{
    return zipc_stream_crc32(0, h, __builtin_offsetof(struct zipc_stream_header, header_crc));
}

void zipc__stream_header_fill(struct zipc_stream_header *h, uint32_t type, uint64_t size,
                              uint32_t payload_crc)
{
    memset(h, 0, sizeof *h);
    h->magic = ZIPC_STREAM_MAGIC;
    h->version = ZIPC_STREAM_VERSION;
    h->type = type;
    h->payload_crc = payload_crc;
    h->size = size;
    h->header_crc = header_crc(h);
}

int zipc__stream_check_header(const struct zipc_stream_header *h, uint64_t max_frame)
{
    if (h->magic != ZIPC_STREAM_MAGIC || h->header_crc != header_crc(h))
        return -EBADMSG;
    if (h->version != ZIPC_STREAM_VERSION)
        return -EPROTO;
    if (h->flags != 0 || h->reserved != 0)
        return -EBADMSG;
    return h->size > max_frame ? -EMSGSIZE : 0;
}

static uint64_t max_frame_or_default(uint64_t max_frame)
{
    return max_frame ? max_frame : ZIPC_STREAM_DEFAULT_MAX_FRAME;
}

int zipc__stream_decode(const void *buf, size_t len, uint64_t max_frame, struct zipc_stream_frame *frame,
                        size_t *used)
{
    struct zipc_stream_header h;
    *used = sizeof h;
    if (len < sizeof h)
        return -EAGAIN;
    memcpy(&h, buf, sizeof h); /* a local copy: the checks and the use read the same bytes */
    int err = zipc__stream_check_header(&h, max_frame_or_default(max_frame));
    if (err)
        return err;
    if (h.size > SIZE_MAX - sizeof h)
        return -EMSGSIZE;
    *used = sizeof h + (size_t)h.size;
    if (len - sizeof h < h.size)
        return -EAGAIN;
    const uint8_t *payload = (const uint8_t *)buf + sizeof h;
    if (zipc_stream_crc32(0, payload, (size_t)h.size) != h.payload_crc)
        return -EBADMSG;
    *frame = (struct zipc_stream_frame){.data = payload, .size = h.size, .type = h.type};
    return 0;
}

/* ---- writing ---------------------------------------------------------------- */

/* Wait until fd takes more bytes (a non-blocking fd that was full). */
static int wait_writable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n = zipc__ppoll(&p, 1, INT64_MAX);
    return n < 0 && n != -EINTR ? n : 0;
}

/* writev everything in iov[0..n) (ours to modify), resuming after short
 * writes and EINTR. */
static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            int err = errno == EINTR ? 0 : errno == EAGAIN || errno == EWOULDBLOCK ? wait_writable(fd) : -errno;
            if (err)
                return err;
            continue;
        }
        size_t left = (size_t)w;
        for (; n > 0 && left >= iov->iov_len; iov++, n--)
            left -= iov->iov_len;
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

int zipc_stream_writev(int fd, uint32_t type, const struct iovec *iov, int iovcnt)
{
    if (fd < 0 || iovcnt < 0 || iovcnt > ZIPC_STREAM_MAX_IOV || (iovcnt > 0 && !iov))
        return -EINVAL;
    struct iovec all[ZIPC_STREAM_MAX_IOV + 1];
    uint64_t size = 0;
    uint32_t crc = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return -EINVAL;
        crc = zipc_stream_crc32(crc, iov[i].iov_base, iov[i].iov_len);
        size += iov[i].iov_len;
        all[i + 1] = iov[i];
    }
    struct zipc_stream_header h;
    zipc__stream_header_fill(&h, type, size, crc);
    all[0] = (struct iovec){.iov_base = &h, .iov_len = sizeof h};
    return write_all(fd, all, iovcnt + 1);
}

int zipc_stream_write(int fd, uint32_t type, const void *data, size_t size)
{
    if (!data && size)
        return -EINVAL;
    struct iovec one = {.iov_base = (void *)data, .iov_len = size};
    return zipc_stream_writev(fd, type, &one, size ? 1 : 0);
}

/* ---- reading ---------------------------------------------------------------- */

#define STAGE_SIZE (64 * 1024) /* read-ahead: many small frames per read() */
#define GROW_MIN (64 * 1024)   /* the payload buffer's first size */
#define PAYLOAD_SHIFT 16       /* payload address 16 mod 64, as in a channel ring */
#define READ_MAX (1u << 30)    /* per read() (Linux caps one at 2 GiB - 4 KiB anyway) */

struct zipc_stream_reader {
    int fd;
    int broken;               /* 0, or the error every later read returns */
    uint64_t max_frame;
    uint8_t stage[STAGE_SIZE]; /* bytes read ahead: [lo, hi) not yet consumed */
    size_t lo, hi;
    bool in_payload;          /* the header of the current frame is checked */
    struct zipc_stream_header hdr;
    uint64_t got;             /* payload bytes of the current frame so far */
    uint32_t crc;             /* CRC-32 of those */
    uint8_t *buf;             /* 64-aligned; the payload lives at buf + PAYLOAD_SHIFT */
    uint64_t cap;             /* payload bytes buf holds */
};

static int reserve_payload(zipc_stream_reader *r, uint64_t want);

int zipc_stream_reader_open(zipc_stream_reader **out, int fd, uint64_t max_frame)
{
    if (!out || fd < 0)
        return -EINVAL;
    zipc_stream_reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->fd = fd;
    r->max_frame = max_frame_or_default(max_frame);
    if (reserve_payload(r, 64)) { /* a buffer from the start: frame.data is never NULL */
        free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

int zipc_stream_reader_close(zipc_stream_reader *r)
{
    if (r) {
        free(r->buf);
        free(r);
    }
    return 0;
}

/* One read() into dst: the byte count (> 0), 0 at end of stream, or -errno
 * (-EAGAIN on a non-blocking fd with nothing to read); EINTR is retried. */
static ssize_t read_some(int fd, void *dst, size_t n)
{
    for (;;) {
        ssize_t got = read(fd, dst, n);
        if (got >= 0)
            return got;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* Read ahead into the stage (after moving what is left to its front). */
static ssize_t fill_stage(zipc_stream_reader *r)
{
    if (r->lo > 0) {
        memmove(r->stage, r->stage + r->lo, r->hi - r->lo);
        r->hi -= r->lo;
        r->lo = 0;
    }
    ssize_t n = read_some(r->fd, r->stage + r->hi, STAGE_SIZE - r->hi);
    if (n > 0)
        r->hi += (size_t)n;
    return n;
}

/* Take the next header from the stream and check it. */
static int read_header(zipc_stream_reader *r)
{
    while (r->hi - r->lo < sizeof r->hdr) {
        ssize_t n = fill_stage(r);
        if (n == 0)
            return r->hi == r->lo ? -EPIPE : -EBADMSG; /* clean end, or a torn header */
        if (n < 0)
            return (int)n;
    }
    memcpy(&r->hdr, r->stage + r->lo, sizeof r->hdr);
    r->lo += sizeof r->hdr;
    int err = zipc__stream_check_header(&r->hdr, r->max_frame);
    if (err)
        return err;
    r->in_payload = true;
    r->got = 0;
    r->crc = 0;
    return 0;
}

/* Room for `want` payload bytes in total, keeping the first r->got. */
static int reserve_payload(zipc_stream_reader *r, uint64_t want)
{
    if (want <= r->cap)
        return 0;
    if (want > SIZE_MAX - PAYLOAD_SHIFT - 63)
        return -ENOMEM;
    size_t bytes = (size_t)zipc__align_up(PAYLOAD_SHIFT + want, 64);
    void *nbuf;
    if (posix_memalign(&nbuf, 64, bytes))
        return -ENOMEM;
    if (r->got)
        memcpy((uint8_t *)nbuf + PAYLOAD_SHIFT, r->buf + PAYLOAD_SHIFT, (size_t)r->got);
    free(r->buf);
    r->buf = nbuf;
    r->cap = want;
    return 0;
}

/* The buffer grows with what arrived: to twice the bytes so far (at least
 * GROW_MIN), never beyond the declared size. */
static uint64_t next_capacity(const zipc_stream_reader *r)
{
    uint64_t want = r->got < GROW_MIN / 2 ? GROW_MIN : 2 * r->got;
    return want < r->hdr.size ? want : r->hdr.size;
}

/* Append n payload bytes already in the buffer at got. */
static void took(zipc_stream_reader *r, size_t n)
{
    r->crc = zipc_stream_crc32(r->crc, r->buf + PAYLOAD_SHIFT + r->got, n);
    r->got += n;
}

static int read_payload(zipc_stream_reader *r)
{
    while (r->got < r->hdr.size) {
        if (r->cap < next_capacity(r)) { /* also when full: got == cap < size */
            int err = reserve_payload(r, next_capacity(r));
            if (err)
                return err;
        }
        uint64_t end = r->cap < r->hdr.size ? r->cap : r->hdr.size; /* the buffer may be larger */
        uint64_t room = end - r->got; /* > 0 */
        if (r->hi > r->lo) { /* read-ahead first */
            size_t n = r->hi - r->lo < room ? r->hi - r->lo : (size_t)room;
            memcpy(r->buf + PAYLOAD_SHIFT + r->got, r->stage + r->lo, n);
            r->lo += n;
            took(r, n);
            continue;
        }
        /* A short rest goes through the stage (it may bring the next frames
         * along); a long one straight into the buffer. */
        bool via_stage = r->hdr.size - r->got < STAGE_SIZE / 2;
        ssize_t n = via_stage ? fill_stage(r)
                              : read_some(r->fd, r->buf + PAYLOAD_SHIFT + r->got,
                                          room < READ_MAX ? (size_t)room : READ_MAX);
        if (n == 0)
            return -EBADMSG; /* the stream ended inside a payload */
        if (n < 0)
            return (int)n;
        if (!via_stage)
            took(r, (size_t)n);
    }
    return r->crc == r->hdr.payload_crc ? 0 : -EBADMSG;
}

static bool latches(int err) { return err == -EBADMSG || err == -EMSGSIZE || err == -EPROTO; }

int zipc_stream_read(zipc_stream_reader *r, struct zipc_stream_frame *frame)
{
    if (!r || !frame)
        return -EINVAL;
    if (r->broken)
        return r->broken;
    int err = r->in_payload ? 0 : read_header(r);
    if (!err)
        err = read_payload(r);
    if (err) {
        if (latches(err))
            r->broken = err;
        return err;
    }
    r->in_payload = false;
    *frame = (struct zipc_stream_frame){.data = r->buf + PAYLOAD_SHIFT,
                                        .size = r->hdr.size, .type = r->hdr.type};
    return 0;
}
