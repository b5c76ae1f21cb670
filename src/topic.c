/* Topic: one publisher, many subscribers (include/zipc/topic.h; the files
 * are listed in topic.h here, the design is docs/DESIGN.md §11).
 *
 * The publisher is a ring tx half whose space comes from the slowest
 * lossless cursor and from reclaiming the oldest frames; each subscriber is
 * a ring rx half that the ring may overtake. Three kinds of segment
 * (zipc/abi.h): the data (read-only for subscribers), a board everybody
 * writes (sleep flags), and one cursor page per subscriber. The publisher's
 * door thread admits subscribers and watches them die.
 *
 * This file: walking published frames, for the publisher (reclaim, a
 * joiner's start) and for subscribers (resuming at the newest, latest);
 * the one check of a subscription, for both ends. */
#include "topic.h"

int zipc__topic_frame_step(const struct zipc__ring *r, uint64_t pos, uint64_t seq, uint64_t *next,
                            const struct zipc_frame **msg)
{
    uint64_t off = pos & r->mask;
    const struct zipc_frame *f = (const void *)(r->base + off);
    /* acquire: pairs with the publishing exchange, as a take (§2.5 #9) */
    uint64_t mark = zipc__load(&f->mark, ZIPC__ACQUIRE);
    if (mark == ZIPC_FRAME_MARK(seq, ZIPC_FRAME_PAD) && off != 0) {
        *next = pos + r->size - off;
        *msg = NULL;
        return 1;
    }
    if (mark != ZIPC_FRAME_MARK(seq, ZIPC_FRAME_MSG))
        return 0;
    uint32_t size = zipc__load(&f->size, ZIPC__RELAXED); /* relaxed: after the mark (§2.5 #10) */
    uint64_t frame = zipc__frame_bytes(size);
    if (size > r->max_message || off + frame > r->size)
        return -EBADMSG;
    *next = pos + frame;
    *msg = f;
    return 1;
}

uint64_t zipc__topic_walk(const struct zipc__ring *r, struct spot *at, uint64_t max)
{
    uint64_t n = 0, next;
    const struct zipc_frame *f;
    /* a lap holds at most lap_frames frames: a bound even on a hostile ring */
    for (uint64_t steps = 0; n < max && steps <= 2 * (uint64_t)r->lap_frames; steps++) {
        if (zipc__topic_frame_step(r, at->pos, at->seq, &next, &f) <= 0)
            break;
        at->pos = next;
        if (f) {
            at->seq++;
            n++;
        }
    }
    return n;
}

int zipc__subscription_check(const struct zipc_subscription *r)
{
    if (r->policy > ZIPC_SUB_MAX_LAG || (r->policy == ZIPC_SUB_MAX_LAG && r->max_lag == 0) ||
        (r->flags & ~(uint32_t)ZIPC_SUB_RESUME_NEWEST))
        return -EINVAL;
    return 0;
}
