/* Topic subscriber: a ring rx half the publisher may overtake (-EOVERFLOW,
 * resume, exact loss), views checked for overwrites on release (-ESTALE),
 * latest, and setup through the common endpoint layer (docs/DESIGN.md §11). */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"

/* How long the oldest pair may stay half-written (the publisher preempted,
 * or dead, between its two version stores) before we give up on it. */
#define OLDEST_PATIENCE_NS 1000000000LL

struct zipc_subscriber {
    /* ---- per message ------------------------------------------------------ */
    struct zipc__ring_rx rx;
    _Alignas(ZIPC_CACHE_LINE) struct zipc__waiter wait;
    /* ---- cold ------------------------------------------------------------------ */
    struct zipc__segment data, board_seg, cursor_seg;
    const struct zipc_topic_ctl *ctl;
    struct zipc_topic_cursor *cursor;
    struct zipc_subscription req;
    uint64_t start_seq;       /* where we joined */
    uint64_t dropped_below;   /* views below this seq were dropped by an overtake */
    bool gap_pending;         /* the join's history gap is still to be reported */
    uint64_t loss_messages, loss_bytes;             /* the last loss */
    uint64_t lost_messages, lost_bytes, overflows;  /* all of them */
    int publisher_pid;
};

static bool evicted(const zipc_subscriber *sub)
{
    return zipc__load(&sub->cursor->evicted, ZIPC__RELAXED) != 0; /* relaxed: read after the hang-up */
}

static int report_loss(zipc_subscriber *sub, uint64_t messages, uint64_t bytes)
{
    sub->loss_messages = messages;
    sub->loss_bytes = bytes;
    sub->lost_messages += messages;
    sub->lost_bytes += bytes;
    sub->overflows++;
    /* relaxed: informative, for tools (zipc stat); only we write them */
    zipc__store(&sub->cursor->lost_messages, sub->lost_messages, ZIPC__RELAXED);
    zipc__store(&sub->cursor->lost_bytes, sub->lost_bytes, ZIPC__RELAXED);
    zipc__store(&sub->cursor->overflows, sub->overflows, ZIPC__RELAXED);
    return -EOVERFLOW;
}

/* The oldest pair, read consistently; validated against our read position. */
static int read_oldest(zipc_subscriber *sub, struct spot *s)
{
    const struct zipc_topic_oldest *o = &sub->ctl->oldest;
    int64_t give_up = 0;
    for (unsigned i = 0;; i++) {
        /* acquire version, relaxed pair, acquire fence, relaxed version: the
         * seqlock's reader (§2.5 #23) */
        uint64_t v = zipc__load(&o->version, ZIPC__ACQUIRE);
        s->pos = zipc__load(&o->position, ZIPC__RELAXED);
        s->seq = zipc__load(&o->seq, ZIPC__RELAXED);
        zipc__fence(ZIPC__ACQUIRE);
        if (!(v & 1) && zipc__load(&o->version, ZIPC__RELAXED) == v)
            return s->pos & (ZIPC_FRAME_ALIGN - 1) ? -EBADMSG : 0;
        if (i < 64) {
            zipc__cpu_relax();
            continue;
        }
        /* a publisher gone mid-update never finishes it: no patience for it */
        if (zipc__peer_gone(&sub->wait, i == 64))
            return -EPIPE;
        sched_yield(); /* the writer may be preempted mid-update: let it run */
        int64_t now = zipc__now_ns();
        if (!give_up)
            give_up = now + OLDEST_PATIENCE_NS;
        else if (now > give_up)
            return -EBADMSG;
    }
}

/* What sub_error says of an overtake that lost nothing (only a pad was
 * reclaimed): resumed, try the call again. */
#define RESUMED 1

/* The ring overtook us: resume at the oldest message (or the newest) and
 * report what was skipped, once. Open views are dropped (their release
 * says -ESTALE). -EOVERFLOW, or RESUMED when no message was lost. */
static int overtaken(zipc_subscriber *sub)
{
    if (evicted(sub))
        return zipc__ring_fail(&sub->rx.sticky_err, -EBADMSG);
    struct spot s;
    int err = read_oldest(sub, &s);
    /* It overtook us, and every message takes at least one slot of position. */
    if (!err && ((int64_t)(s.pos - sub->rx.rpos) <= 0 ||
                 s.seq - sub->rx.taken > (s.pos - sub->rx.rpos) / ZIPC_FRAME_ALIGN))
        err = -EBADMSG;
    if (err)
        return err == -EBADMSG ? zipc__ring_fail(&sub->rx.sticky_err, err) : err;
    /* only after a loss: an overtake that reclaimed a pad alone lost nothing,
     * and the next message is still ours to read */
    if ((sub->req.flags & ZIPC_SUB_RESUME_NEWEST) && s.seq != sub->rx.taken)
        zipc__topic_find_newest(&sub->rx.ring, &s, ZIPC_TYPE_ANY, NULL);
    uint64_t messages = s.seq - sub->rx.taken, bytes = s.pos - sub->rx.rpos;
    sub->dropped_below = sub->rx.taken;
    zipc__ring_rx_seek(&sub->rx, s.pos, s.seq);
    return messages ? report_loss(sub, messages, bytes) : RESUMED;
}

/* Map a ring error to the subscriber's: overtaken (or RESUMED), evicted, or as is. */
static int sub_error(zipc_subscriber *sub, int err)
{
    if (err == -EOVERFLOW)
        return overtaken(sub);
    if (err == -EPIPE && evicted(sub))
        return zipc__ring_fail(&sub->rx.sticky_err, -EBADMSG);
    return err;
}

/* Before a receive: evicted (for good), or the join's history gap still
 * to report; 0 to go on. The eviction flag is a line the publisher writes
 * once: an L1 hit per call. */
static inline int before_receive(zipc_subscriber *sub)
{
    if (ZIPC__LIKELY(!sub->gap_pending && !evicted(sub)))
        return 0;
    if (evicted(sub))
        return zipc__ring_fail(&sub->rx.sticky_err, -EBADMSG);
    sub->gap_pending = false;
    return report_loss(sub, zipc__load(&sub->cursor->gap, ZIPC__RELAXED), 0);
}

int zipc_subscriber_view(zipc_subscriber *sub, struct zipc_msg *msg, int64_t timeout_ns)
{
    if (ZIPC__UNLIKELY(!sub))
        return -EINVAL;
    int err = before_receive(sub);
    if (ZIPC__UNLIKELY(err))
        return err;
    while (ZIPC__UNLIKELY(err = zipc__ring_rx_view(&sub->rx, msg, timeout_ns)) &&
           (err = sub_error(sub, err)) == RESUMED) {
    }
    return err;
}

int zipc_subscriber_drain(zipc_subscriber *sub, struct zipc_msg *msgs, unsigned max, int64_t timeout_ns)
{
    if (!sub || !msgs || max == 0)
        return -EINVAL;
    int err = before_receive(sub);
    if (err)
        return err;
    int n;
    while ((n = zipc__ring_rx_drain(&sub->rx, msgs, max, timeout_ns)) <= 0 && (n = sub_error(sub, n)) == RESUMED) {
    }
    return n;
}

int zipc_subscriber_recv(zipc_subscriber *sub, void *buf, size_t cap, size_t *size, uint32_t *type,
                         int64_t timeout_ns)
{
    if (!sub || (!buf && cap))
        return -EINVAL;
    int err = before_receive(sub);
    if (err)
        return err;
    while ((err = zipc__ring_rx_recv(&sub->rx, buf, cap, size, type, timeout_ns)) &&
           (err = sub_error(sub, err)) == RESUMED) {
    }
    return err;
}

/* Views starting at `from` are being released: were they overwritten while
 * open? Looked at before the release (after it the space is the
 * publisher's again), after the caller's reads: a seqlock's re-check. */
static bool stale(const zipc_subscriber *sub, uint64_t from) { return zipc__ring_rx_overwritten(&sub->rx, from); }

/* A release's result: its error, a view dropped by an overtake (-ESTALE
 * rather than "not a view"), or the views it gave back were stale. */
static int released(const zipc_subscriber *sub, int err, bool was_stale, const struct zipc_msg *m)
{
    if (err == -EINVAL && m && m->seq < sub->dropped_below)
        return -ESTALE;
    return err ? err : was_stale ? -ESTALE : 0;
}

int zipc_subscriber_release(zipc_subscriber *sub)
{
    if (ZIPC__UNLIKELY(!sub))
        return -EINVAL;
    bool was_stale = sub->rx.views && stale(sub, sub->rx.head);
    return released(sub, zipc__ring_rx_release(&sub->rx), was_stale, NULL);
}

static uint64_t view_start(const struct zipc_msg *m) { return m->end_ - zipc__frame_bytes(m->size); }

int zipc_subscriber_release_upto(zipc_subscriber *sub, const struct zipc_msg *last)
{
    if (!sub)
        return -EINVAL;
    bool was_stale = stale(sub, sub->rx.head);
    return released(sub, zipc__ring_rx_release_upto(&sub->rx, last), was_stale, last);
}

int zipc_subscriber_release_view(zipc_subscriber *sub, const struct zipc_msg *msg)
{
    if (ZIPC__UNLIKELY(!sub || !msg))
        return -EINVAL;
    bool was_stale = stale(sub, view_start(msg));
    return released(sub, zipc__ring_rx_release_view(&sub->rx, msg), was_stale, msg);
}

int zipc_subscriber_release_views(zipc_subscriber *sub, const struct zipc_msg *msgs, unsigned n)
{
    if (!sub || !msgs || n == 0)
        return -EINVAL;
    bool was_stale = stale(sub, view_start(msgs));
    return released(sub, zipc__ring_rx_release_views(&sub->rx, msgs, n), was_stale, msgs);
}

/* One try at the newest message of `type` still in the ring: 1 found and
 * copied intact, 0 none, -EAGAIN overwritten while we looked, -EMSGSIZE. */
static int latest_once(zipc_subscriber *sub, uint32_t type, void *buf, size_t cap, size_t *size, uint32_t *type_out)
{
    struct spot s;
    int err = read_oldest(sub, &s);
    if (err)
        return err == -EBADMSG ? zipc__ring_fail(&sub->rx.sticky_err, err) : err;
    const struct zipc__ring *r = &sub->rx.ring;
    uint64_t from = s.pos, at = 0;
    if (!zipc__topic_find_newest(r, &s, type, &at)) /* none, or the walk was cut by an overwrite */
        return zipc__ring_rx_overwritten(&sub->rx, from) ? -EAGAIN : 0;
    const struct zipc_frame *f = zipc__ring_frame(r, at);
    /* relaxed: read once, then checked; the overwrite check below judges them (§2.5 #10) */
    uint32_t n = zipc__load(&f->size, ZIPC__RELAXED), t = zipc__load(&f->type, ZIPC__RELAXED);
    bool fits = n <= r->max_message && (at & r->mask) + zipc__frame_bytes(n) <= r->size;
    if (fits && n <= cap)
        zipc__copy(buf, (const uint8_t *)f + ZIPC_FRAME_HEADER, n);
    if (!fits || zipc__ring_rx_overwritten(&sub->rx, at))
        return -EAGAIN;
    if (size)
        *size = n;
    if (type_out)
        *type_out = t;
    return n > cap ? -EMSGSIZE : 1;
}

int zipc_subscriber_latest(zipc_subscriber *sub, uint32_t type, void *buf, size_t cap, size_t *size,
                           uint32_t *type_out)
{
    if (!sub || (!buf && cap))
        return -EINVAL;
    if (sub->rx.sticky_err && sub->rx.sticky_err != -EPIPE)
        return sub->rx.sticky_err; /* a corrupt ring (or unbound): as every other call */
    for (int tries = 0; tries < 8; tries++) {
        int r = latest_once(sub, type, buf, cap, size, type_out);
        if (r != -EAGAIN)
            return r > 0 ? 0 : r == 0 ? -ENOENT : r;
    }
    return -EAGAIN; /* the ring laps faster than one copy */
}

int zipc_subscriber_last_loss(const zipc_subscriber *sub, uint64_t *messages, uint64_t *bytes)
{
    if (!sub)
        return -EINVAL;
    if (messages)
        *messages = sub->loss_messages;
    if (bytes)
        *bytes = sub->loss_bytes;
    return 0;
}

int zipc_subscriber_interrupt(zipc_subscriber *sub)
{
    if (!sub)
        return -EINVAL;
    zipc__waiter_interrupt(&sub->wait);
    return 0;
}

int zipc_subscriber_fd(zipc_subscriber *sub) { return sub ? zipc__waiter_fd(&sub->wait) : -EINVAL; }
size_t zipc_subscriber_capacity(const zipc_subscriber *sub) { return sub ? sub->rx.ring.size : 0; }
size_t zipc_subscriber_max_message(const zipc_subscriber *sub) { return sub ? sub->rx.ring.max_message : 0; }
int zipc_subscriber_publisher_pid(const zipc_subscriber *sub) { return sub ? sub->publisher_pid : -EINVAL; }

int zipc_subscriber_get_stats(const zipc_subscriber *sub, struct zipc_subscriber_stats *st)
{
    if (!sub || !st)
        return -EINVAL;
    const struct zipc_channel_side *me = &sub->cursor->side;
    /* relaxed: informative counters (§2.5 #2, #11, #18) */
    uint64_t head_seq = zipc__load(&me->messages, ZIPC__RELAXED);
    uint64_t published = zipc__load(&sub->ctl->publisher.messages, ZIPC__RELAXED);
    st->messages = head_seq - sub->start_seq - sub->lost_messages;
    st->bytes = zipc__load(&me->position, ZIPC__RELAXED) - zipc__load(&sub->cursor->start, ZIPC__RELAXED) -
                sub->lost_bytes;
    st->lost_messages = sub->lost_messages;
    st->lost_bytes = sub->lost_bytes;
    st->overflows = sub->overflows;
    st->lag = published - head_seq < (uint64_t)INT64_MAX ? published - head_seq : 0;
    st->wakeups = zipc__load(&me->wakeups, ZIPC__RELAXED);
    st->sleeps = zipc__load(&me->sleeps, ZIPC__RELAXED);
    return 0;
}

/* ---- subscriber setup ------------------------------------------------------------ */

static struct zipc__segment_policy data_policy(uint64_t max_size)
{
    /* read-only, and the publisher must have sealed it so (nobody else can write it) */
    return zipc__segment_policy_ro(max_size, F_SEAL_FUTURE_WRITE, true);
}

/* A one-page segment of ours (board or cursor): read-write, that kind. */
static int attach_page(struct zipc__segment *seg, int *fd, uint32_t kind, uint64_t body_size)
{
    int err = zipc__segment_attach(seg, zipc__segment_policy_rw(ZIPC_TOPIC_PAGE_SEGMENT), *fd, kind);
    if (err)
        return err;
    *fd = -1;
    return zipc__topic_check_page(seg, body_size);
}

static void bind_sub_waiter(zipc_subscriber *sub, struct zipc__handover *h, const struct zipc__opts *o)
{
    struct zipc__waiter *w = &sub->wait;
    struct zipc_topic_board *board = page_body(&sub->board_seg);
    w->sock = h->peer.sock;
    w->pidfd = zipc__peer_pidfd(h->peer.sock, h->peer.pid);
    w->wake_fd = h->fds[FD_SUB_WAKE];
    w->peer_wake_fd = h->fds[FD_PUB_WAKE];
    h->peer.sock = h->fds[FD_SUB_WAKE] = h->fds[FD_PUB_WAKE] = -1;
    w->my_sleeping = &sub->cursor->wait.sleeping;
    w->peer_sleeping = &board->publisher_wait.sleeping;
    w->sleep_hint = &board->sleepers;
    w->peer_state = &sub->ctl->publisher.state;
    w->my_wakeups = &sub->cursor->side.wakeups;
    w->my_sleeps = &sub->cursor->side.sleeps;
    w->spin_ns = o->spin_ns;
    w->peer_pid = h->peer.pid;
    sub->publisher_pid = h->peer.pid;
}

/* The endpoint layer's bind: the data (checked), our two pages, our
 * request written for the publisher to read after our ack. */
static int subscriber_bind(void *ep, struct zipc__handover *h, const struct zipc__opts *o)
{
    zipc_subscriber *sub = ep;
    struct zipc_topic_ctl ctl;
    struct zipc__ring ring;
    int err = zipc__topic_check_data(&h->seg, &ctl);
    if (!err)
        zipc__ring_init(&ring, h->seg.base + ctl.ring_offset, ctl.ring_size);
    if (err || (err = attach_page(&sub->board_seg, &h->fds[FD_BOARD], ZIPC_KIND_TOPIC_BOARD,
                                  sizeof(struct zipc_topic_board))) ||
        (err = attach_page(&sub->cursor_seg, &h->fds[FD_CURSOR], ZIPC_KIND_TOPIC_CURSOR,
                           sizeof(struct zipc_topic_cursor))))
        return err; /* the pages attached so far are closed with the subscriber */
    sub->data = h->seg;
    h->seg = (struct zipc__segment){.fd = -1};
    sub->ctl = ctl_of(&sub->data);
    sub->cursor = page_body(&sub->cursor_seg);
    zipc__ring_rx_bind(&sub->rx, &ring, &sub->cursor->side, &sub->wait);
    sub->rx.oldest = &sub->ctl->oldest.position;
    struct zipc_topic_cursor *c = sub->cursor;
    c->policy = sub->req.policy;
    c->flags = sub->req.flags;
    c->max_lag = sub->req.max_lag;
    c->history = sub->req.history;
    c->bell = zipc__topic_ask_bell != 0; /* we can sleep on the topic's bell: it comes with the "go" */
    bind_sub_waiter(sub, h, o);
    /* relaxed pid, release ACTIVE: informative (§2.5 #14) */
    zipc__store(&c->side.pid, (uint32_t)getpid(), ZIPC__RELAXED);
    zipc__store(&c->side.state, ZIPC_STATE_ACTIVE, ZIPC__RELEASE);
    return 0;
}

const struct zipc__kind_desc zipc__topic_kind = {
    .kind = ZIPC_KIND_TOPIC,
    .nfds = TOPIC_NFDS,
    .roles = 1u << ZIPC_ROLE_CONSUMER,
    .segment_fds = 1u << FD_BOARD | 1u << FD_CURSOR,
    .body_offset = ZIPC_TOPIC_BODY_OFFSET,
    .max_segment = ZIPC_TOPIC_RING_OFFSET(ZIPC_TOPIC_MAX_SUBSCRIBERS) + ZIPC_MAX_CAPACITY,
    .policy = data_policy,
    .bind = subscriber_bind,
};

/* Start where the publisher said in our cursor page (after its "go"). */
static int start_from_cursor(zipc_subscriber *sub)
{
    const struct zipc_topic_cursor *c = sub->cursor;
    uint64_t start = c->start, seq = c->start_seq;
    if (start & (ZIPC_FRAME_ALIGN - 1))
        return -EBADMSG;
    sub->wait.sleep_hint_bit = 1u << (c->slot & 31);
    sub->start_seq = seq;
    sub->gap_pending = c->gap != 0;
    zipc__ring_rx_seek(&sub->rx, start, seq);
    return 0;
}

static int subscriber_alloc(zipc_subscriber **out, const struct zipc_subscription *req)
{
    struct zipc_subscription none = {0};
    int err = zipc__subscription_check(req ? req : &none);
    if (err)
        return err;
    zipc_subscriber *sub = aligned_alloc(ZIPC_CACHE_LINE, zipc__align_up(sizeof(*sub), ZIPC_CACHE_LINE));
    if (!sub)
        return -ENOMEM;
    memset(sub, 0, sizeof(*sub));
    zipc__waiter_init(&sub->wait);
    sub->data.fd = sub->board_seg.fd = sub->cursor_seg.fd = -1;
    sub->rx.sticky_err = ZIPC__RING_UNBOUND;
    sub->req = req ? *req : none;
    *out = sub;
    return 0;
}

int zipc__topic_ask_bell = 1;

/* The publisher's "go", with its bell (none from a publisher of minor < 5:
 * it wakes us through our own eventfd then), and our start. */
static int await_go(zipc_subscriber *sub, int64_t deadline)
{
    int bell = -1;
    int err = zipc__receive_ack_fd(sub->wait.sock, deadline, &bell);
    if (!err && bell >= 0 && !(err = zipc__check_eventfd(bell)))
        err = zipc__waiter_add_bell(&sub->wait, bell);
    else if (bell >= 0)
        close(bell);
    return err ? err : start_from_cursor(sub);
}

/* The end of every setup: the subscriber, or the error and nothing left. */
static int subscriber_done(zipc_subscriber **out, zipc_subscriber *sub, int err)
{
    if (err) {
        zipc_subscriber_close(sub);
        return err;
    }
    *out = sub;
    return 0;
}

int zipc_topic_subscribe(zipc_subscriber **out, const char *name, const struct zipc_subscription *req,
                         const struct zipc_options *opts)
{
    if (!out || !name)
        return -EINVAL;
    *out = NULL;
    struct zipc__opts o;
    zipc_subscriber *sub;
    int err = zipc__opts_resolve(opts, &o);
    if (err || (err = subscriber_alloc(&sub, req)))
        return err;
    int64_t deadline = zipc__deadline(o.timeout_ns);
    err = zipc__endpoint_connect(&zipc__topic_kind, sub, name, &o);
    if (!err)
        err = await_go(sub, deadline);
    return subscriber_done(out, sub, err);
}

int zipc__subscriber_adopt(zipc_subscriber **out, int fds[ZIPC__TOPIC_NFDS], struct zipc__peer *peer,
                           const struct zipc__opts *o, uint64_t announced_size, const struct zipc_subscription *req)
{
    zipc_subscriber *sub;
    int err = subscriber_alloc(&sub, req);
    if (err)
        return err;
    err = zipc__endpoint_adopt(&zipc__topic_kind, sub, fds, ZIPC_ROLE_CONSUMER, peer, o, announced_size);
    return subscriber_done(out, sub, err ? err : start_from_cursor(sub));
}

int zipc_subscriber_close(zipc_subscriber *sub)
{
    if (!sub)
        return 0;
    if (sub->cursor) /* release: our last word; the publisher counts us as departed (§2.5 #15) */
        zipc__store(&sub->cursor->side.state, ZIPC_STATE_CLOSED, ZIPC__RELEASE);
    zipc__waiter_close(&sub->wait); /* the link's hang-up tells the publisher's door */
    zipc__segment_close(&sub->cursor_seg);
    zipc__segment_close(&sub->board_seg);
    zipc__segment_close(&sub->data);
    zipc__ring_rx_free(&sub->rx);
    free(sub);
    return 0;
}
