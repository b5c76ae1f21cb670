/* Inspect: a read-only snapshot of any zipc segment for tools. The segment
 * is validated by the same code as an attach (zipc__segment_attach, with a
 * read-only, non-prefaulting policy that accepts any kind), then by the
 * kind's own layout check (the one its members run), then read field by
 * field: each shared value once, checked before it is used. Loops run over
 * fixed bounds (the ABI's slot counts) or over counts taken from a checked
 * copy, never over a count read from the segment on the way. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"
#include "store.h"
#include "topic.h"

/* Nothing is pre-faulted, so a large mapping costs address space only. */
#define ZIPC__INSPECT_MAX_SIZE (UINT64_C(1) << 40)

#define LOAD(p) zipc__load((p), ZIPC__RELAXED) /* relaxed: counters for display, each read once */

static void side_read(const struct zipc_channel_side *s, struct zipc_inspect_side *out)
{
    out->messages = LOAD(&s->messages);
    out->bytes = LOAD(&s->position);
    out->wakeups = LOAD(&s->wakeups);
    out->sleeps = LOAD(&s->sleeps);
    out->pid = LOAD(&s->pid);
    out->state = LOAD(&s->state);
}

/* ---- channel ------------------------------------------------------------- */

/* The channel's control block, if the (already copied) header places one
 * inside the segment. Only display values: nothing here is used as an
 * offset, so a hostile block shows as odd numbers, never as a crash. */
static void channel_read(const struct zipc__segment *seg, struct zipc_segment_info *info)
{
    if (info->body_size < sizeof(struct zipc_channel_ctl) || info->body_offset % 8 ||
        info->body_offset > seg->size || seg->size - info->body_offset < sizeof(struct zipc_channel_ctl))
        return;
    const struct zipc_channel_ctl *ctl = (const void *)(seg->base + info->body_offset);
    info->channel.ring_size = LOAD(&ctl->ring_size);
    info->channel.max_message = LOAD(&ctl->max_message);
    info->channel.listener_role = LOAD(&ctl->listener_role);
    /* The consumer's position first: it never passes the producer's, so a
     * later producer read is at least as far (a fill of at most one ring
     * more than true, clamped below). */
    side_read(&ctl->consumer, &info->channel.consumer);
    side_read(&ctl->producer, &info->channel.producer);
    uint64_t tail = info->channel.producer.bytes, head = info->channel.consumer.bytes;
    uint64_t used = tail >= head ? tail - head : 0;
    info->channel.ring_used = used < info->channel.ring_size ? used : info->channel.ring_size;
    info->detail = ZIPC_INSPECT_CHANNEL;
}

/* ---- topic ------------------------------------------------------------------ */

/* The data segment: its layout checked by the subscribers' check
 * (zipc__topic_check_data) on a copy, the table walked over the copy's
 * max_subscribers, which the segment's checked size covers. */
static void topic_read(const struct zipc__segment *seg, struct zipc_segment_info *info)
{
    struct zipc_topic_ctl c;
    if (zipc__topic_check_data(seg, &c))
        return;
    struct zipc_inspect_topic *t = &info->topic;
    const struct zipc_topic_ctl *ctl = ctl_of(seg);
    t->ring_size = c.ring_size;
    t->max_message = c.max_message;
    t->max_subscribers = c.max_subscribers;
    side_read(&ctl->publisher, &t->publisher);
    t->oldest_seq = LOAD(&ctl->oldest.seq);
    for (uint32_t i = 0; i < c.max_subscribers; i++) {
        const struct zipc_topic_slot_info *si = slot_info(seg, i);
        if (LOAD(&si->state) != ZIPC_TOPIC_SLOT_ACTIVE)
            continue;
        t->subscribers++;
        if (t->listed == ZIPC_INSPECT_MAX_SUBSCRIBERS)
            continue;
        t->sub[t->listed++] = (struct zipc_inspect_subscriber){
            .slot = i, .pid = LOAD(&si->pid), .policy = LOAD(&si->policy), .max_lag = LOAD(&si->max_lag),
            .head_seq = LOAD(&si->head_seq), .joined_ns = LOAD(&si->joined_ns)};
    }
    info->detail = ZIPC_INSPECT_TOPIC;
}

static void cursor_read(const struct zipc__segment *seg, struct zipc_segment_info *info)
{
    if (zipc__topic_check_page(seg, sizeof(struct zipc_topic_cursor)))
        return;
    const struct zipc_topic_cursor *c = page_body(seg);
    struct zipc_inspect_cursor *o = &info->cursor;
    side_read(&c->side, &o->side);
    o->slot = LOAD(&c->slot);
    o->policy = LOAD(&c->policy);
    o->flags = LOAD(&c->flags);
    o->evicted = LOAD(&c->evicted);
    o->max_lag = LOAD(&c->max_lag);
    o->gap = LOAD(&c->gap);
    o->lost_messages = LOAD(&c->lost_messages);
    o->lost_bytes = LOAD(&c->lost_bytes);
    o->overflows = LOAD(&c->overflows);
    info->detail = ZIPC_INSPECT_TOPIC_CURSOR;
}

/* ---- queue and rpc ----------------------------------------------------------------- */

/* A member slot's holder, judged as members judge it (zipc__member_alive:
 * a lock query on our own description and the pid; no lock is taken). */
static void member_read(const struct zipc__members *m, uint32_t slot, struct zipc_inspect_member *out)
{
    uint64_t lease = 0;
    int alive = zipc__member_alive(m, slot, &lease);
    out->alive = alive == 1;
    out->pid = (lease & ZIPC_LEASE_BUSY) ? ZIPC_LEASE_PID(lease) : 0;
}

static void lane_read(const struct zipc__segment *seg, const struct zipc_queue_ctl *c, uint32_t i,
                      struct zipc_inspect_lane *out)
{
    const struct zipc_queue_lane *l = (const void *)(seg->base + c->lane_offset + (uint64_t)i * c->lane_stride);
    uint64_t claim = LOAD(&l->claim); /* before the producer's count: queued is never negative */
    side_read(&l->producer, &out->producer);
    uint32_t queued = (uint32_t)out->producer.messages - (uint32_t)(claim >> 32);
    out->queued = queued <= c->log_size ? queued : c->log_size; /* a lap at most (hostile: clamped) */
    out->redeliver = LOAD(&l->redeliver);
}

/* Lanes and consumer lines lie where the checked copy of the control block
 * says (zipc__queue_check_ctl, the members' check, ties them to the size). */
static void queue_read(const struct zipc__segment *seg, struct zipc_segment_info *info)
{
    struct zipc_queue_ctl c;
    struct zipc__members m;
    if (zipc__queue_check_ctl(seg, &c) || zipc__members_bind(&m, seg, c.members_offset) ||
        m.capacity != ZIPC_QUEUE_SLOTS)
        return;
    const struct zipc_queue_ctl *ctl = (const void *)(seg->base + ZIPC_QUEUE_BODY_OFFSET);
    struct zipc_inspect_queue *q = &info->queue;
    q->ring_size = c.ring_size;
    q->flags = c.flags;
    q->lanes_open = LOAD(&ctl->lanes_open);
    q->producers_joined = LOAD(&ctl->producers_joined);
    uint32_t hwm = LOAD(&ctl->lane_hwm);
    q->lane_hwm = hwm < ZIPC_QUEUE_MAX_PRODUCERS ? hwm : ZIPC_QUEUE_MAX_PRODUCERS;
    for (uint32_t i = 0; i < ZIPC_QUEUE_MAX_PRODUCERS; i++) {
        lane_read(seg, &c, i, &q->lane[i]);
        member_read(&m, i, &q->lane[i].member);
        q->producers += q->lane[i].member.alive;
    }
    const struct zipc_queue_consumer *lines = (const void *)(seg->base + ZIPC_QUEUE_CONSUMERS_OFFSET);
    for (uint32_t i = 0; i < ZIPC_QUEUE_MAX_CONSUMERS; i++) {
        struct zipc_inspect_consumer *o = &q->consumer[i];
        o->messages = LOAD(&lines[i].messages);
        o->bytes = LOAD(&lines[i].bytes);
        o->redelivered = LOAD(&lines[i].redelivered);
        o->wakeups = LOAD(&lines[i].wakeups);
        o->sleeps = LOAD(&lines[i].sleeps);
        o->held = LOAD(&lines[i].held);
        o->sleeping = LOAD(&lines[i].sleeping);
        member_read(&m, ZIPC_QUEUE_MAX_PRODUCERS + i, &o->member);
        q->consumers += o->member.alive;
    }
    info->detail = (c.flags & ZIPC_QUEUE_SEGMENT_RPC) ? ZIPC_INSPECT_RPC : ZIPC_INSPECT_QUEUE;
}

/* ---- tensor store -------------------------------------------------------------------- */

/* A version: only once sealed against writes (its bytes can no longer
 * change) and checked by the openers' own check, so that the table may be
 * walked like an opener walks it. */
static void store_read(const struct zipc__segment *seg, struct zipc_segment_info *info)
{
    if (!(info->seals & F_SEAL_WRITE) || zipc__store_check(seg->base, seg->size))
        return;
    const struct zipc_store_ctl *c = (const void *)(seg->base + ZIPC_STORE_BODY_OFFSET);
    const struct zipc_store_entry *e = (const void *)(seg->base + c->table_offset);
    struct zipc_inspect_store *o = &info->store;
    o->version = c->version;
    o->tensors = c->ntensors;
    o->metadata = c->nmeta;
    o->align = c->align;
    o->data_size = c->data_size;
    for (uint32_t i = 0; i < c->ntensors; i++)
        o->tensor_bytes += e[i].nbytes; /* inside data_size each: no overflow */
    info->detail = ZIPC_INSPECT_STORE;
}

/* The name's board: read-write for every holder, so display values only. */
static void store_board_read(const struct zipc__segment *seg, struct zipc_segment_info *info)
{
    if (seg->size != ZIPC_STORE_BOARD_SIZE || info->body_offset != ZIPC_STORE_BODY_OFFSET ||
        info->body_size != sizeof(struct zipc_store_board))
        return;
    const struct zipc_store_board *b = (const void *)(seg->base + ZIPC_STORE_BODY_OFFSET);
    info->store_board.latest = LOAD(&b->latest);
    info->store_board.publishes = LOAD(&b->publishes);
    info->detail = ZIPC_INSPECT_STORE_BOARD;
}

/* ---- entry points -------------------------------------------------------------------- */

int zipc_inspect_fd(int fd, struct zipc_segment_info *info)
{
    if (fd < 0 || !info)
        return -EINVAL;
    memset(info, 0, sizeof(*info));
    struct zipc__segment seg;
    int err = zipc__segment_attach(&seg, zipc__segment_policy_ro(ZIPC__INSPECT_MAX_SIZE, 0, false), fd, 0);
    if (err)
        return err;
    /* One copy of the header: what was validated is what we report and use
     * (a hostile writer may change the shared one meanwhile). */
    struct zipc_segment_header h;
    memcpy(&h, seg.base, sizeof(h));
    if (h.body_offset > seg.size || h.body_size > seg.size - h.body_offset) {
        err = -EBADMSG; /* changed since it was validated */
    } else {
        info->kind = h.kind;
        info->abi_major = h.abi_major;
        info->abi_minor = h.abi_minor;
        info->segment_size = seg.size;
        info->body_offset = h.body_offset;
        info->body_size = h.body_size;
        info->creator_pid = h.creator_pid;
        info->creator_uid = h.creator_uid;
        info->created_ns = h.created_ns;
        memcpy(info->label, h.name, sizeof(info->label) - 1);
        int seals = fcntl(fd, F_GET_SEALS);
        info->seals = seals < 0 ? 0 : (uint32_t)seals;
        switch (h.kind) {
        case ZIPC_KIND_CHANNEL: channel_read(&seg, info); break;
        case ZIPC_KIND_TOPIC: topic_read(&seg, info); break;
        case ZIPC_KIND_TOPIC_CURSOR: cursor_read(&seg, info); break;
        case ZIPC_KIND_QUEUE: queue_read(&seg, info); break;
        case ZIPC_KIND_TENSOR_STORE: store_read(&seg, info); break;
        case ZIPC_KIND_STORE_BOARD: store_board_read(&seg, info); break;
        default: break; /* the generic part only */
        }
    }
    seg.fd = -1; /* the caller's */
    zipc__segment_close(&seg);
    if (err)
        memset(info, 0, sizeof(*info));
    return err;
}

int zipc_inspect_path(const char *path, struct zipc_segment_info *info)
{
    if (!path || !info)
        return -EINVAL;
    /* Never open a fifo or a device (an open may block or act): regular
     * files only, and O_NONBLOCK in case it changed in between. */
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EBADMSG;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    int err = zipc_inspect_fd(fd, info);
    close(fd);
    return err;
}
