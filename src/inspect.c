/* Inspect: a read-only snapshot of any zipc segment for tools. The segment
 * is validated by the same code as an attach (zipc__segment_attach, with a
 * read-only, non-prefaulting policy that accepts any kind), then read field
 * by field: each shared value once, checked before it is used. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Nothing is pre-faulted, so a large mapping costs address space only. */
#define ZIPC__INSPECT_MAX_SIZE (UINT64_C(1) << 40)

static void side_read(const struct zipc_channel_side *s, struct zipc_inspect_side *out)
{
    /* relaxed: counters for display, each read once; no ordering needed. */
    out->messages = zipc__load(&s->messages, ZIPC__RELAXED);
    out->bytes = zipc__load(&s->position, ZIPC__RELAXED);
    out->wakeups = zipc__load(&s->wakeups, ZIPC__RELAXED);
    out->sleeps = zipc__load(&s->sleeps, ZIPC__RELAXED);
    out->pid = zipc__load(&s->pid, ZIPC__RELAXED);
    out->state = zipc__load(&s->state, ZIPC__RELAXED);
}

/* The channel's control block, if the (already copied) header places one
 * inside the segment. Only display values: nothing here is used as an
 * offset, so a hostile block shows as odd numbers, never as a crash. */
static void channel_read(const struct zipc__segment *seg, struct zipc_segment_info *info)
{
    if (info->body_size < sizeof(struct zipc_channel_ctl) || info->body_offset % 8 ||
        info->body_offset > seg->size || seg->size - info->body_offset < sizeof(struct zipc_channel_ctl))
        return;
    const struct zipc_channel_ctl *ctl = (const void *)(seg->base + info->body_offset);
    info->channel.ring_size = zipc__load(&ctl->ring_size, ZIPC__RELAXED);
    info->channel.max_message = zipc__load(&ctl->max_message, ZIPC__RELAXED);
    info->channel.listener_role = zipc__load(&ctl->listener_role, ZIPC__RELAXED);
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
        if (h.kind == ZIPC_KIND_CHANNEL)
            channel_read(&seg, info);
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
