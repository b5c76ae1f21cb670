/* zipc stream: the typed messages of a channel over any byte stream (a pipe,
 * stdin/stdout, a socket, a file): the portable fallback when the peers share
 * no memory, so that `producer | consumer` carries the same objects.
 *
 * Contract
 *   Format: a stream is a sequence of frames, each a struct
 *     zipc_stream_header (32 bytes, little-endian) then `size` payload bytes,
 *     exactly the payload a channel message of that type carries
 *     (zipc/types.h, zipc/tensor.h). Two CRC-32s (the zlib/IEEE one) guard
 *     it: header_crc covers the header, so a garbled size is refused before
 *     anything is allocated or awaited; payload_crc covers the payload.
 *     docs/ABI.md, "Stream framing".
 *   Concurrency: a reader is owned by one thread at a time. A writer call is
 *     one frame; frames of two threads or processes writing to one fd may
 *     interleave byte-wise (a pipe keeps only writes <= PIPE_BUF whole):
 *     give each fd one writer at a time.
 *   Blocking: the calls block as the fd does. On a blocking fd, read waits
 *     for a whole frame and write until the frame is written. On a
 *     non-blocking fd, zipc_stream_read returns -EAGAIN and resumes the same
 *     frame on the next call; zipc_stream_write waits in poll() for room (a
 *     frame is never left half-written). Signals: EINTR is retried.
 *   Allocation: the reader's payload buffer grows with the bytes that have
 *     really arrived (at most twice those), never with a declared size alone,
 *     and never beyond max_frame: a hostile stream cannot make it allocate
 *     memory it did not send. The writer does not allocate.
 *   Untrusted input: everything read is validated; a broken stream gives
 *     -EBADMSG, never a crash or a wait for bytes that a valid stream would
 *     not need. After -EBADMSG, -EMSGSIZE or -EPROTO the reader stays broken
 *     (a byte stream cannot be resynchronised): every later read returns the
 *     same error.
 */
#ifndef ZIPC_STREAM_H
#define ZIPC_STREAM_H

#include <sys/uio.h> /* struct iovec */

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)


#define ZIPC_STREAM_MAGIC UINT32_C(0x4d54535a) /* "ZSTM" */
#define ZIPC_STREAM_VERSION 1
#define ZIPC_STREAM_HEADER_SIZE 32
/* A reader's default max_frame: the largest payload it accepts. */
#define ZIPC_STREAM_DEFAULT_MAX_FRAME (UINT64_C(1) << 30) /* 1 GiB */
/* zipc_stream_writev takes at most this many payload pieces. */
#define ZIPC_STREAM_MAX_IOV 64

struct zipc_stream_header {
    uint32_t magic;       /* ZIPC_STREAM_MAGIC */
    uint16_t version;     /* ZIPC_STREAM_VERSION */
    uint16_t flags;       /* 0 (reserved) */
    uint32_t type;        /* the message type id (zipc/types.h or the application's) */
    uint32_t payload_crc; /* CRC-32 of the payload bytes */
    uint64_t size;        /* payload bytes that follow */
    uint32_t reserved;    /* 0 */
    uint32_t header_crc;  /* CRC-32 of the 28 bytes before it */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_stream_header, magic) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_stream_header, version) == 4, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_stream_header, flags) == 6, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_stream_header, type) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_stream_header, payload_crc) == 12, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_stream_header, size) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_stream_header, reserved) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_stream_header, header_crc) == 28, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_stream_header) == ZIPC_STREAM_HEADER_SIZE, "abi");

/* One frame read. */
struct zipc_stream_frame {
    const void *data; /* the payload: valid until the next read or close; at an
                       * address 16 mod 64, as a channel payload in the ring (so a
                       * zipc tensor's data is 64-byte aligned) */
    uint64_t size;
    uint32_t type;
    uint32_t reserved_; /* 0 */
};

/* CRC-32 (the zlib/IEEE 802.3 one: reflected 0xEDB88320, init and final xor
 * 0xFFFFFFFF) of n bytes, continuing from `crc` (start with 0):
 * zipc_stream_crc32(0, "123456789", 9) == 0xCBF43926. Python's
 * zlib.crc32() computes the same. */
uint32_t zipc_stream_crc32(uint32_t crc, const void *data, size_t n);

/* Write one frame of `type` carrying `size` bytes at `data` to fd: the header
 * and the payload in one writev(), short writes and EINTR resumed.
 * Returns 0, -EPIPE (the reading side is gone; the process gets SIGPIPE
 * unless it ignores it), -EINVAL (fd < 0, or data NULL with size > 0), or
 * another errno of write(). After an error mid-frame the stream is unusable. */
int zipc_stream_write(int fd, uint32_t type, const void *data, size_t size);

/* The same with the payload in iovcnt pieces (0..ZIPC_STREAM_MAX_IOV, else
 * -EINVAL), written back to back: e.g. a tensor header and its data, with no
 * copy. */
int zipc_stream_writev(int fd, uint32_t type, const struct iovec *iov, int iovcnt);

typedef struct zipc_stream_reader zipc_stream_reader;

/* A reader of frames from fd (not closed by the reader). max_frame: the
 * largest payload accepted (0: ZIPC_STREAM_DEFAULT_MAX_FRAME).
 * Returns 0, -EINVAL (fd < 0, out NULL) or -ENOMEM. */
int zipc_stream_reader_open(zipc_stream_reader **out, int fd, uint64_t max_frame);

/* Read the next frame into *frame (its data stays valid until the next call
 * on the reader). Returns 0,
 *   -EPIPE    the stream ended cleanly, between two frames;
 *   -EBADMSG  the stream is broken: it ended inside a frame, or a header has
 *             a wrong magic, checksum or reserved field, or a payload its
 *             checksum does not match;
 *   -EMSGSIZE a valid header declares more than max_frame bytes;
 *   -EPROTO   a valid header of another stream format version;
 *   -EAGAIN   (non-blocking fd) no whole frame yet: call again when readable;
 *   -ENOMEM, or another errno of read().
 * Bad input is refused as soon as it is seen: the header is checked before
 * any payload is read or allocated. */
int zipc_stream_read(zipc_stream_reader *r, struct zipc_stream_frame *frame);

/* Free the reader (the fd stays open). Returns 0; NULL is accepted. */
int zipc_stream_reader_close(zipc_stream_reader *r);


#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_STREAM_H */
