/* fuzz_stream: the stream reader's trust boundary (include/zipc/stream.h).
 *
 * Input: the bytes of a stream, as a hostile writer sends them. Two readers
 * must agree on them:
 *   - zipc__stream_decode, walked frame by frame over the bytes in memory;
 *   - zipc_stream_read on a pipe holding the same bytes, then EOF (the
 *     reader's read-ahead, buffer growth and short reads).
 * Checked: no crash or out-of-bounds read (ASan), every frame lies inside the
 * input and within max_frame, both yield the same frames (type, size, bytes),
 * and they end the same way: an incomplete tail (decode's -EAGAIN) is the
 * reader's -EBADMSG, nothing left its -EPIPE, any other error the same one.
 * The reader never waits: the pipe ends with EOF.
 */
#include "fuzz_common.h"

#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "zipc/types.h"

#define MAX_FRAME 1024   /* small, so that -EMSGSIZE is reached */
#define MAX_INPUT 65536  /* fits in the pipe at once */

static bool is_stream_error(int r) { return r == -EBADMSG || r == -EMSGSIZE || r == -EPROTO; }

/* The reader on a pipe holding bytes[0..n) then EOF: frame k must be
 * frames[k]; returns its final error. */
static int read_pipe(const uint8_t *bytes, size_t n, const struct zipc_stream_frame *frames, int nframes)
{
    int p[2];
    FZ_CHECK(pipe2(p, O_CLOEXEC) == 0);
    fcntl(p[1], F_SETPIPE_SZ, MAX_INPUT * 2);
    FZ_CHECK(n == 0 || write(p[1], bytes, n) == (ssize_t)n);
    fz_close(&p[1]);
    zipc_stream_reader *r;
    FZ_CHECK(zipc_stream_reader_open(&r, p[0], MAX_FRAME) == 0);
    struct zipc_stream_frame f;
    int err, k = 0;
    while (!(err = zipc_stream_read(r, &f))) {
        FZ_CHECK(k < nframes);
        FZ_CHECK(f.type == frames[k].type && f.size == frames[k].size);
        FZ_CHECK(memcmp(f.data, frames[k].data, (size_t)f.size) == 0);
        FZ_CHECK((uintptr_t)f.data % 64 == 16);
        k++;
    }
    FZ_CHECK(k == nframes);
    FZ_CHECK(zipc_stream_read(r, &f) == err); /* ended or broken stays so */
    zipc_stream_reader_close(r);
    fz_close(&p[0]);
    return err;
}

static void run(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        size = MAX_INPUT;
    static struct zipc_stream_frame frames[MAX_INPUT / ZIPC_STREAM_HEADER_SIZE + 1];
    int n = 0, err;
    size_t at = 0, used;
    while (!(err = zipc__stream_decode(data + at, size - at, MAX_FRAME, &frames[n], &used))) {
        FZ_CHECK(used >= ZIPC_STREAM_HEADER_SIZE && used <= size - at);
        FZ_CHECK(frames[n].size <= MAX_FRAME && frames[n].size == used - ZIPC_STREAM_HEADER_SIZE);
        FZ_CHECK((const uint8_t *)frames[n].data == data + at + ZIPC_STREAM_HEADER_SIZE);
        at += used;
        n++;
    }
    FZ_CHECK(err == -EAGAIN ? used > size - at : is_stream_error(err));
    int want = err != -EAGAIN ? err : at == size ? -EPIPE : -EBADMSG;
    FZ_CHECK(read_pipe(data, size, frames, n) == want);
}

/* ---- seeds ------------------------------------------------------------------ */

static size_t put_frame(uint8_t *out, uint32_t type, const void *payload, size_t n)
{
    struct zipc_stream_header h;
    zipc__stream_header_fill(&h, type, n, zipc_stream_crc32(0, payload, n));
    memcpy(out, &h, sizeof h);
    memcpy(out + sizeof h, payload, n);
    return sizeof h + n;
}

static void write_seeds(const char *dir)
{
    static uint8_t s[4096];
    uint8_t payload[600];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 31);
    size_t n = put_frame(s, ZIPC_TYPE_STR, "text", 4);
    n += put_frame(s + n, ZIPC_TYPE_BYTES, payload, 0);
    n += put_frame(s + n, 0x7469636B, payload, 32);
    n += put_frame(s + n, ZIPC_TYPE_BYTES, payload, sizeof payload);
    fz_seed_write(dir, "four_frames", s, n);
    fz_seed_write(dir, "torn_payload", s, n - 7);
    fz_seed_write(dir, "torn_header", s, 20);
    n = put_frame(s, ZIPC_TYPE_BYTES, payload, sizeof payload);
    struct zipc_stream_header h;
    zipc__stream_header_fill(&h, ZIPC_TYPE_BYTES, MAX_FRAME + 1, 0);
    memcpy(s + n, &h, sizeof h);
    fz_seed_write(dir, "too_large", s, n + sizeof h);
}

static void setup(void) {}

FZ_HARNESS(write_seeds, setup, run)
