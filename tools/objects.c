/* The scan of live zipc objects (objects.h). */
#include "objects.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MEMFD_PREFIX "/memfd:zipc:"

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

bool zt_is_pid_fd(const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || colon - s > 10 || strlen(colon + 1) > 10)
        return false;
    char pid[16];
    memcpy(pid, s, (size_t)(colon - s));
    pid[colon - s] = 0;
    return all_digits(pid) && all_digits(colon + 1);
}

static struct zt_segment *find(const struct zt_scan *s, uint64_t dev, uint64_t ino)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->seg[i]->dev == dev && s->seg[i]->ino == ino)
            return s->seg[i];
    return NULL;
}

static struct zt_segment *add_segment(struct zt_scan *s, uint64_t dev, uint64_t ino)
{
    struct zt_segment **grown = realloc(s->seg, (s->n + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    s->seg = grown;
    struct zt_segment *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->dev = dev;
    g->ino = ino;
    g->err = -ENOENT;
    s->seg[s->n++] = g;
    return g;
}

static int add_holder(struct zt_segment *g, int pid, int fd)
{
    struct zt_holder *h = realloc(g->holders, (g->nholders + 1) * sizeof(*h));
    if (!h)
        return -ENOMEM;
    g->holders = h;
    h[g->nholders++] = (struct zt_holder){pid, fd};
    if (g->npids && g->pids[g->npids - 1] == pid)
        return 0; /* fds of one pid come together */
    int *p = realloc(g->pids, (g->npids + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    g->pids = p;
    p[g->npids++] = pid;
    return 0;
}

/* One process's fds: those linking to a zipc memfd. A process that exits
 * meanwhile, or that we may not look into, just ends the walk. */
static int scan_pid(struct zt_scan *s, int pid)
{
    char dir[48], path[64], link[128];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int err = 0;
    for (struct dirent *e; !err && (e = readdir(d));) {
        if (!all_digits(e->d_name))
            continue;
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, atoi(e->d_name));
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        if (len < (ssize_t)strlen(MEMFD_PREFIX))
            continue;
        link[len] = 0;
        struct stat st;
        if (strncmp(link, MEMFD_PREFIX, strlen(MEMFD_PREFIX)) || stat(path, &st) < 0)
            continue;
        struct zt_segment *g = find(s, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (!g && !(g = add_segment(s, (uint64_t)st.st_dev, (uint64_t)st.st_ino)))
            err = -ENOMEM;
        else
            err = add_holder(g, pid, atoi(e->d_name));
    }
    closedir(d);
    return err;
}

/* Inspect through the holders in turn: one that died since the walk
 * (-ENOENT) gives way to the next. */
static void inspect(struct zt_segment *g)
{
    for (unsigned i = 0; i < g->nholders; i++) {
        snprintf(g->path, sizeof(g->path), "/proc/%d/fd/%d", g->holders[i].pid, g->holders[i].fd);
        g->err = zipc_inspect_path(g->path, &g->info);
        if (g->err == 0) {
            /* the same file still? (the fd may have been closed and reused) */
            struct stat st;
            if (stat(g->path, &st) == 0 && (uint64_t)st.st_dev == g->dev && (uint64_t)st.st_ino == g->ino)
                return;
            g->err = -ENOENT;
        }
        if (g->err != -ENOENT)
            return;
    }
}

/* A store name's board goes with the versions of its label that one of its
 * holders holds too (every holder holds its version and the board). */
static void attach_store_board(struct zt_scan *s, struct zt_segment *b)
{
    b->part = true;
    for (unsigned k = 0; k < s->n; k++) {
        struct zt_segment *v = s->seg[k];
        if (v->err || v->info.kind != ZIPC_KIND_TENSOR_STORE || strcmp(v->info.label, b->info.label))
            continue;
        for (unsigned p = 0; p < b->npids && !v->board; p++)
            for (unsigned q = 0; q < v->npids && !v->board; q++)
                if (b->pids[p] == v->pids[q])
                    v->board = b;
    }
}

/* A topic's pages (board, cursors) go with the topic whose label and
 * creator they carry (the publisher creates all three). */
static int attach_parts(struct zt_scan *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (!s->seg[i]->err && s->seg[i]->info.kind == ZIPC_KIND_STORE_BOARD)
            attach_store_board(s, s->seg[i]);
    }
    for (unsigned i = 0; i < s->n; i++) {
        struct zt_segment *c = s->seg[i];
        if (c->err || (c->info.kind != ZIPC_KIND_TOPIC_CURSOR && c->info.kind != ZIPC_KIND_TOPIC_BOARD))
            continue;
        c->part = true;
        if (c->info.detail != ZIPC_INSPECT_TOPIC_CURSOR)
            continue;
        for (unsigned k = 0; k < s->n; k++) {
            struct zt_segment *t = s->seg[k];
            if (t->err || t->info.kind != ZIPC_KIND_TOPIC || t->info.creator_pid != c->info.creator_pid ||
                strcmp(t->info.label, c->info.label))
                continue;
            struct zt_segment **grown = realloc(t->cursors, (t->ncursors + 1) * sizeof(*grown));
            if (!grown)
                return -ENOMEM;
            t->cursors = grown;
            t->cursors[t->ncursors++] = c;
            break;
        }
    }
    return 0;
}

static void drop_vanished(struct zt_scan *s)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < s->n; i++) {
        struct zt_segment *g = s->seg[i];
        if (g->err == -ENOENT) {
            free(g->holders);
            free(g->pids);
            free(g->cursors);
            free(g);
        } else {
            s->seg[kept++] = g;
        }
    }
    s->n = kept;
}

static int by_name(const void *a, const void *b)
{
    const struct zt_segment *x = *(const struct zt_segment *const *)a, *y = *(const struct zt_segment *const *)b;
    int c = strcmp(x->info.label, y->info.label);
    return c ? c : x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int zt_scan(struct zt_scan *s)
{
    memset(s, 0, sizeof(*s));
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    int self = (int)getpid(), err = 0;
    for (struct dirent *e; !err && (e = readdir(d));)
        if (all_digits(e->d_name) && atoi(e->d_name) != self)
            err = scan_pid(s, atoi(e->d_name));
    closedir(d);
    for (unsigned i = 0; !err && i < s->n; i++)
        inspect(s->seg[i]);
    drop_vanished(s);
    if (!err && s->n)   /* qsort's base may not be NULL, even for 0 items */
        qsort(s->seg, s->n, sizeof(*s->seg), by_name);
    if (!err)
        err = attach_parts(s);
    s->at_ns = mono_ns();
    return err;
}

struct zt_segment *zt_find_fd(struct zt_scan *s, const char *pid_fd, int *err)
{
    if (!zt_is_pid_fd(pid_fd)) {
        *err = -EINVAL;
        return NULL;
    }
    int pid = atoi(pid_fd), fd = atoi(strchr(pid_fd, ':') + 1);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
    struct stat st;
    if (stat(path, &st) < 0) {
        *err = -errno;
        return NULL;
    }
    struct zt_segment *g = find(s, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    if (g)
        return g;
    if (!(g = add_segment(s, (uint64_t)st.st_dev, (uint64_t)st.st_ino)) || add_holder(g, pid, fd)) {
        *err = -ENOMEM;
        return NULL;
    }
    inspect(g);
    return g;
}

void zt_scan_free(struct zt_scan *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        free(s->seg[i]->holders);
        free(s->seg[i]->pids);
        free(s->seg[i]->cursors);
        free(s->seg[i]);
    }
    free(s->seg);
    memset(s, 0, sizeof(*s));
}

/* ---- what an object is -------------------------------------------------------- */

const char *zt_kind_name(const struct zt_segment *g)
{
    static const char *const names[] = {
        [ZIPC_KIND_CHANNEL] = "channel",         [ZIPC_KIND_QUEUE] = "queue",
        [ZIPC_KIND_TOPIC] = "topic",             [ZIPC_KIND_TENSOR_STORE] = "store",
        [ZIPC_KIND_TOPIC_BOARD] = "topic-board", [ZIPC_KIND_TOPIC_CURSOR] = "topic-cursor",
        [ZIPC_KIND_STORE_BOARD] = "store-board",
    };
    if (g->err)
        return "?";
    if (g->info.detail == ZIPC_INSPECT_RPC)
        return "rpc";
    uint32_t k = g->info.kind;
    if (k < sizeof(names) / sizeof(names[0]) && names[k])
        return names[k];
    static __thread char other[24];
    snprintf(other, sizeof(other), "kind-%u", k);
    return other;
}

uint64_t zt_capacity(const struct zt_segment *g)
{
    switch (g->err ? 0 : g->info.detail) {
    case ZIPC_INSPECT_CHANNEL: return g->info.channel.ring_size;
    case ZIPC_INSPECT_TOPIC: return g->info.topic.ring_size;
    case ZIPC_INSPECT_QUEUE:
    case ZIPC_INSPECT_RPC: return g->info.queue.ring_size;
    case ZIPC_INSPECT_STORE: return g->info.store.tensor_bytes;
    default: return 0;
    }
}

bool zt_totals(const struct zt_segment *g, uint64_t *messages, uint64_t *bytes)
{
    *messages = *bytes = 0;
    switch (g->err ? 0 : g->info.detail) {
    case ZIPC_INSPECT_CHANNEL:
        *messages = g->info.channel.producer.messages;
        *bytes = g->info.channel.producer.bytes;
        return true;
    case ZIPC_INSPECT_TOPIC:
        *messages = g->info.topic.publisher.messages;
        *bytes = g->info.topic.publisher.bytes;
        return true;
    case ZIPC_INSPECT_QUEUE:
    case ZIPC_INSPECT_RPC:
        for (unsigned i = 0; i < ZIPC_INSPECT_QUEUE_LANES; i++) {
            *messages += g->info.queue.lane[i].producer.messages;
            *bytes += g->info.queue.lane[i].producer.bytes;
        }
        return true;
    default: return false;
    }
}
