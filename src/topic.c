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

uint64_t zipc__topic_walk(const struct zipc__ring *r, struct spot *at, uint64_t max)
{
    uint64_t n = 0, next;
    const struct zipc_frame *f;
    /* a lap holds at most lap_frames frames: a bound even on a hostile ring */
    for (uint64_t steps = 0; n < max && steps <= 2 * (uint64_t)r->lap_frames; steps++) {
        if (zipc__ring_frame_step(r, at->pos, at->seq, &next, &f) <= 0)
            break;
        at->pos = next;
        if (f) {
            at->seq++;
            n++;
        }
    }
    return n;
}

bool zipc__topic_find_newest(const struct zipc__ring *r, struct spot *at, uint32_t type, uint64_t *msg_pos)
{
    struct spot cur = *at, newest = *at, frame = *at; /* frame: where the next message's frame
                                                           begins, the pad before it included */
    bool found = false;
    uint64_t next;
    const struct zipc_frame *f;
    for (uint64_t steps = 0; steps <= 2 * (uint64_t)r->lap_frames; steps++) {
        if (zipc__ring_frame_step(r, cur.pos, cur.seq, &next, &f) <= 0)
            break;
        /* relaxed: after the mark's acquire, as a take (§2.5 #10) */
        if (f && (type == ZIPC_TYPE_ANY || zipc__load(&f->type, ZIPC__RELAXED) == type)) {
            newest = frame;
            found = true;
            if (msg_pos)
                *msg_pos = cur.pos;
        }
        cur.seq += f != NULL;
        cur.pos = next;
        if (f)
            frame = cur;
    }
    *at = newest;
    return found;
}

int zipc__subscription_check(const struct zipc_subscription *r)
{
    if (r->policy > ZIPC_SUB_MAX_LAG || (r->policy == ZIPC_SUB_MAX_LAG && r->max_lag == 0) ||
        (r->flags & ~(uint32_t)ZIPC_SUB_RESUME_NEWEST))
        return -EINVAL;
    return 0;
}
