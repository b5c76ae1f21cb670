/* zipc bridge: the wire format of one ZeroMQ message (docs/ABI.md §16, "Bridge
 * wire format"). Encoding and parsing only: no ZeroMQ types here, so the
 * parser is fuzzed alone (tests/fuzz/fuzz_bridge.c).
 *
 * Every ZeroMQ message is one frame: a 32-byte little-endian header, then
 * `length` payload bytes.
 *   0  u32 magic   ZB_MAGIC ("ZPB" + 'W')
 *   4  u8  version ZB_VERSION
 *   5  u8  kind    enum zb_kind
 *   6  u16 flags   enum zb_flags (only those of the kind)
 *   8  u64 session the sender's session (hello, data, gap); the receiver's (credit)
 *  16  u64 seq     data: its stream number; gap: the first lost one;
 *                  hello: the next seq the sender sends; credit: the next seq expected (ack)
 *  24  u32 type    data: the message's type id; 0 otherwise
 *  28  u32 length  payload bytes after the header
 * Payloads: data: the message; gap: u64 count (messages lost from seq on);
 * credit: u64 limit (the sender may send seq < limit) + u64 the sender
 * session it answers; hello: none.
 *
 * Contract: pure functions, no allocation, thread-safe. zb_parse reads
 * exactly n bytes of hostile input and accepts only what the format allows.
 */
#ifndef ZIPC_TOOLS_BRIDGE_WIRE_H
#define ZIPC_TOOLS_BRIDGE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define ZB_MAGIC UINT32_C(0x5750425A) /* "ZPBW" read as bytes */
#define ZB_VERSION 1
#define ZB_HEADER 32
/* The largest data payload on the wire (the largest zipc message is below). */
#define ZB_MAX_PAYLOAD (UINT32_C(1) << 30)

enum zb_kind {
    ZB_HELLO = 1,  /* sender -> receiver: my session; I (re)start at seq */
    ZB_DATA = 2,   /* sender -> receiver: one message */
    ZB_GAP = 3,    /* sender -> receiver: `count` messages from seq are lost */
    ZB_CREDIT = 4, /* receiver -> sender: ack and credit limit */
};

enum zb_flags {
    ZB_HELLO_LOSSY = 1u << 0,  /* hello: the source may lose (DROP_OLDEST): no retransmission */
    ZB_CREDIT_RESEND = 1u << 0, /* credit: resend from seq (what followed was not taken) */
};

struct zb_frame {
    uint8_t kind;
    uint16_t flags;
    uint64_t session;
    uint64_t seq;
    uint32_t type;
    uint32_t length;
    const void *payload; /* into the parsed buffer: `length` bytes */
    uint64_t count;      /* gap */
    uint64_t limit;      /* credit */
    uint64_t peer;       /* credit: the sender session it answers */
};

/* Parse n bytes: 0 and *f filled, or -EPROTO (not this format: magic,
 * version), -EBADMSG (a malformed frame: kind, flags, lengths). */
int zb_parse(const void *buf, size_t n, struct zb_frame *f);

/* Write the header (ZB_HEADER bytes) of a frame with a payload of
 * f->length bytes (data) into out. */
void zb_put_header(void *out, const struct zb_frame *f);
/* Encode a whole control frame (hello, gap, credit) into out, which holds
 * ZB_CONTROL_MAX bytes; returns its size. */
#define ZB_CONTROL_MAX (ZB_HEADER + 16)
size_t zb_encode_control(void *out, const struct zb_frame *f);

#endif
