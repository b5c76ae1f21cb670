/* Stream framing internals shared by src/stream.c, its tests and its fuzzer
 * (include/zipc/stream.h is the API, docs/ABI.md "Stream framing" the format). */
#ifndef ZIPC_STREAM_INTERNAL_H
#define ZIPC_STREAM_INTERNAL_H

#include "zipc/stream.h"

/* Fill *h for a payload of `size` bytes whose CRC-32 is payload_crc. */
void zipc__stream_header_fill(struct zipc_stream_header *h, uint32_t type, uint64_t size,
                              uint32_t payload_crc);

/* Check a header read from the stream (a local copy): magic and header_crc
 * (-EBADMSG), version (-EPROTO), flags and reserved (-EBADMSG), size against
 * max_frame (-EMSGSIZE). Returns 0 if the frame may be read. */
int zipc__stream_check_header(const struct zipc_stream_header *h, uint64_t max_frame);

/* Decode the frame at the start of buf[0..len), a stream's bytes in memory:
 * the trust boundary of the reader as one pure call (for the fuzzer).
 * Returns 0 with *frame pointing into buf and *used = its header + payload
 * bytes; -EAGAIN when buf holds only a prefix of a valid frame (*used = the
 * bytes the whole frame needs, or the header's when the header is
 * incomplete); or the reader's errors -EBADMSG / -EMSGSIZE / -EPROTO.
 * max_frame 0 means ZIPC_STREAM_DEFAULT_MAX_FRAME. */
int zipc__stream_decode(const void *buf, size_t len, uint64_t max_frame, struct zipc_stream_frame *frame,
                        size_t *used);

#endif /* ZIPC_STREAM_INTERNAL_H */
