/* fuzz_bridge: the parser of zipc bridge's wire frames (tools/bridge_wire.h),
 * whose input is whatever a network peer sends.
 *
 * Input: one ZeroMQ message, as is.
 * Checked: no crash, no read outside the message (it is a heap copy of
 * exactly its length, so ASan sees any), only the documented results
 * (0, -EPROTO, -EBADMSG); on success the frame's promises: a known kind,
 * only its flags, the payload exactly the rest of the message, a gap of at
 * least one message that does not wrap, a credit limit not below its ack;
 * and encoding the parsed frame gives back the same bytes (the format has
 * one spelling per frame).
 *
 * Seeds: write_seeds (ZIPC_FUZZ_WRITE_SEEDS) writes one frame of each kind
 * and a few malformed ones.
 */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

#include "bridge_wire.h"

static void check_frame(const uint8_t *msg, size_t n, const struct zb_frame *f)
{
    FZ_CHECK(f->length == n - ZB_HEADER);
    FZ_CHECK(f->payload == msg + ZB_HEADER);
    uint8_t out[ZB_CONTROL_MAX];
    switch (f->kind) {
    case ZB_DATA:
        FZ_CHECK(f->flags == 0 && f->length <= ZB_MAX_PAYLOAD);
        zb_put_header(out, f);
        FZ_CHECK(!memcmp(out, msg, ZB_HEADER));
        return;
    case ZB_HELLO: FZ_CHECK(f->length == 0 && !(f->flags & ~ZB_HELLO_LOSSY)); break;
    case ZB_GAP: FZ_CHECK(f->length == 8 && f->flags == 0 && f->count >= 1 && f->count <= UINT64_MAX - f->seq); break;
    case ZB_CREDIT: FZ_CHECK(f->length == 16 && !(f->flags & ~ZB_CREDIT_RESEND) && f->limit >= f->seq); break;
    default: FZ_CHECK(!"unknown kind accepted");
    }
    FZ_CHECK(f->type == 0);
    FZ_CHECK(zb_encode_control(out, f) == n && !memcmp(out, msg, n));
}

static void run(const uint8_t *data, size_t size)
{
    uint8_t *msg = malloc(size ? size : 1);
    if (!msg)
        return;
    memcpy(msg, data, size);
    struct zb_frame f;
    int r = zb_parse(msg, size, &f);
    FZ_CHECK(r == 0 || r == -EPROTO || r == -EBADMSG);
    if (r == 0)
        check_frame(msg, size, &f);
    free(msg);
}

static void seed_frame(const char *dir, const char *name, const struct zb_frame *f, const char *payload)
{
    uint8_t buf[ZB_HEADER + 64];
    size_t n;
    if (f->kind == ZB_DATA) {
        zb_put_header(buf, f);
        memcpy(buf + ZB_HEADER, payload, f->length);
        n = ZB_HEADER + f->length;
    } else
        n = zb_encode_control(buf, f);
    fz_seed_write(dir, name, buf, n);
}

static void write_seeds(const char *dir)
{
    struct zb_frame f = {.kind = ZB_HELLO, .flags = ZB_HELLO_LOSSY, .session = 0x1122334455667788, .seq = 7};
    seed_frame(dir, "hello", &f, NULL);
    f = (struct zb_frame){.kind = ZB_DATA, .session = 0x1122334455667788, .seq = 7, .type = 42, .length = 5};
    seed_frame(dir, "data", &f, "hello");
    f = (struct zb_frame){.kind = ZB_DATA, .session = 1, .seq = UINT64_MAX, .type = 0xFFFF0001};
    seed_frame(dir, "data_empty", &f, "");
    f = (struct zb_frame){.kind = ZB_GAP, .session = 1, .seq = 100, .count = 3};
    seed_frame(dir, "gap", &f, NULL);
    f = (struct zb_frame){.kind = ZB_CREDIT, .flags = ZB_CREDIT_RESEND, .session = 9, .seq = 5, .limit = 1029,
                          .peer = 0x1122334455667788};
    seed_frame(dir, "credit", &f, NULL);
    uint8_t bad[ZB_HEADER] = {'Z', 'P', 'B', 'W', 2, ZB_HELLO};
    fz_seed_write(dir, "version2", bad, sizeof bad);
    fz_seed_write(dir, "truncated", bad, 7);
}

static void setup(void) {}

FZ_HARNESS(write_seeds, setup, run)
