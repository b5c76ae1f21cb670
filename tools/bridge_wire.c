/* zipc bridge: encoding and defensive parsing of wire frames (bridge_wire.h). */
#include "bridge_wire.h"

#include <errno.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The payload length each control kind must have, the flags it may carry. */
static int control_length(uint8_t kind, uint32_t *length, uint16_t *flags)
{
    switch (kind) {
    case ZB_HELLO: *length = 0, *flags = ZB_HELLO_LOSSY; return 0;
    case ZB_GAP: *length = 8, *flags = 0; return 0;
    case ZB_CREDIT: *length = 16, *flags = ZB_CREDIT_RESEND; return 0;
    default: return -EBADMSG;
    }
}

int zb_parse(const void *buf, size_t n, struct zb_frame *f)
{
    const uint8_t *p = buf;
    if (n < ZB_HEADER)
        return -EBADMSG;
    if (get32(p) != ZB_MAGIC || p[4] != ZB_VERSION)
        return -EPROTO;
    memset(f, 0, sizeof(*f));
    f->kind = p[5];
    f->flags = get16(p + 6);
    f->session = get64(p + 8);
    f->seq = get64(p + 16);
    f->type = get32(p + 24);
    f->length = get32(p + 28);
    if (f->length != n - ZB_HEADER) /* n - ZB_HEADER may exceed 32 bits: compared as size_t */
        return -EBADMSG;
    f->payload = p + ZB_HEADER;
    if (f->kind == ZB_DATA)
        return f->flags == 0 && f->length <= ZB_MAX_PAYLOAD ? 0 : -EBADMSG;
    uint32_t want;
    uint16_t allowed;
    if (control_length(f->kind, &want, &allowed) || f->length != want || (f->flags & ~allowed) || f->type)
        return -EBADMSG;
    if (f->kind == ZB_GAP) {
        f->count = get64(p + ZB_HEADER);
        /* a gap loses at least one message and does not wrap the stream */
        if (f->count == 0 || f->count > UINT64_MAX - f->seq)
            return -EBADMSG;
    } else if (f->kind == ZB_CREDIT) {
        f->limit = get64(p + ZB_HEADER);
        f->peer = get64(p + ZB_HEADER + 8);
        if (f->limit < f->seq) /* a limit below the ack grants nothing: malformed */
            return -EBADMSG;
    }
    return 0;
}

void zb_put_header(void *out, const struct zb_frame *f)
{
    uint8_t *p = out;
    put32(p, ZB_MAGIC);
    p[4] = ZB_VERSION;
    p[5] = f->kind;
    put16(p + 6, f->flags);
    put64(p + 8, f->session);
    put64(p + 16, f->seq);
    put32(p + 24, f->type);
    put32(p + 28, f->length);
}

size_t zb_encode_control(void *out, const struct zb_frame *f)
{
    struct zb_frame h = *f;
    uint16_t allowed;
    if (control_length(h.kind, &h.length, &allowed))
        return 0;
    h.type = 0;
    zb_put_header(out, &h);
    uint8_t *p = (uint8_t *)out + ZB_HEADER;
    if (h.kind == ZB_GAP)
        put64(p, h.count);
    else if (h.kind == ZB_CREDIT) {
        put64(p, h.limit);
        put64(p + 8, h.peer);
    }
    return ZB_HEADER + h.length;
}
