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
 * the one check of a subscription, for both ends; the checks of a topic's
 * segments, for subscribers and for inspect. */
#include <string.h>

#include "topic.h"

int zipc__topic_check_data(const struct zipc__segment *seg, struct zipc_topic_ctl *ctl)
{
    struct zipc_segment_header h;
    if (seg->size < ZIPC_TOPIC_TABLE_OFFSET)
        return -EBADMSG; /* the control block would be read past the end */
    /* copies: what is checked is what the caller uses, whatever the shared
     * block says later */
    memcpy(&h, seg->base, sizeof(h));
    memcpy(ctl, ctl_of(seg), sizeof(*ctl));
    uint64_t ring_offset = ctl->ring_offset, size = ctl->ring_size;
    uint32_t max_subs = ctl->max_subscribers;
    if (h.body_offset != ZIPC_TOPIC_BODY_OFFSET || max_subs == 0 || max_subs > ZIPC_TOPIC_MAX_SUBSCRIBERS ||
        h.body_size != sizeof(*ctl) + (uint64_t)max_subs * sizeof(struct zipc_topic_slot_info) ||
        ring_offset != ZIPC_TOPIC_RING_OFFSET(max_subs) || size < ZIPC_MIN_CAPACITY || size > ZIPC_MAX_CAPACITY ||
        (size & (size - 1)) || seg->size != ring_offset + size ||
        ctl->max_message != size / 2 - ZIPC_FRAME_HEADER || ctl->frame_align != ZIPC_FRAME_ALIGN)
        return -EBADMSG;
    return 0;
}

int zipc__topic_check_page(const struct zipc__segment *seg, uint64_t body_size)
{
    const struct zipc_segment_header *h = (const void *)seg->base;
    if (seg->size != ZIPC_TOPIC_PAGE_SEGMENT || h->body_offset != ZIPC_TOPIC_BODY_OFFSET || h->body_size != body_size)
        return -EBADMSG;
    return 0;
}

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
