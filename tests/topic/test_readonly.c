/* A subscriber cannot write the data it reads.
 *
 * A subscriber process views a message of the topic, then tries every way
 * to change it: a child writing through the view's pointer dies of SIGSEGV;
 * mprotect of the view's pages to PROT_WRITE is refused; its mapping of the
 * data is read-only ("r--s" in /proc/self/maps); the data memfd (when the
 * subscriber holds it) refuses a new read-write shared mapping and
 * write(2). The message is unchanged after all of it, its release is clean,
 * and the stream goes on (a second message arrives intact). Its cursor page
 * is the one thing it maps read-write. */
#include "testutil.h"

#define CAP 8192
#define SIZE 3000 /* the payload spans pages */

struct shared {
    uint64_t seed;
};

static struct shared *sh;
static char name[TU_NAME_MAX];

static void write_through(const void *p) { *(volatile uint8_t *)(uintptr_t)p = 0x5a; }

/* fn(p) in a forked child must die of SIGSEGV. */
static void must_fault(const void *p, const char *what)
{
    pid_t pid = tu_fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        write_through(p);
        _exit(0); /* the write went through */
    }
    int st = tu_wait(pid, 5000);
    CHECK_MSG(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%s: status %#x, not SIGSEGV", what, st);
}

static void data_fd_refuses(void)
{
    int fd = tu_find_segment_fd(ZIPC_KIND_TOPIC, 0);
    if (fd < 0) {
        tu_skip("a new read-write mapping of the data memfd", "the subscriber does not keep the data memfd open");
        return;
    }
    struct stat st;
    if (!CHECK_OK(fstat(fd, &st)))
        return;
    void *rw = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK_MSG(rw == MAP_FAILED && errno == EPERM, "a new read-write shared mapping of the data was allowed");
    if (rw != MAP_FAILED)
        munmap(rw, (size_t)st.st_size);
    uint8_t b = 1;
    CHECK_MSG(pwrite(fd, &b, 1, ZIPC_PAGE) < 0 && errno == EPERM, "write(2) to the data memfd was allowed");
    CHECK_MSG(ftruncate(fd, 0) < 0 && errno == EPERM, "ftruncate of the data memfd was allowed");
}

static void subscriber(void)
{
    struct zipc_options o = tu_opts(10000 * TU_MS);
    zipc_subscriber *sub = NULL;
    if (!CHECK_OK(zipc_topic_subscribe(&sub, name, NULL, &o)))
        tu_child_exit();
    struct zipc_msg m;
    if (!CHECK_OK(zipc_subscriber_view(sub, &m, 10000 * TU_MS)))
        tu_child_exit();
    CHECK_MSG_K(&m, sh->seed, 0, SIZE);
    const uint8_t *p = m.data;
    must_fault(p, "write at the payload's start");
    must_fault(p + SIZE - 1, "write at the payload's end");
    must_fault(p - ZIPC_FRAME_HEADER, "write to the frame header");
    uintptr_t page = (uintptr_t)p & ~(uintptr_t)(ZIPC_PAGE - 1);
    CHECK_MSG(mprotect((void *)page, ZIPC_PAGE, PROT_READ | PROT_WRITE) < 0 && errno == EACCES,
              "mprotect(PROT_WRITE) of the view's page was allowed");
    size_t len;
    uint8_t *data_ro = tu_find_segment_map(ZIPC_KIND_TOPIC, "r--s", 0, &len);
    CHECK_MSG(data_ro && p > data_ro && p + SIZE <= data_ro + len, "the view is not inside a read-only data mapping");
    CHECK_MSG(!tu_find_segment_map(ZIPC_KIND_TOPIC, "rw-s", 0, &len), "the data is mapped read-write too");
    CHECK_MSG(tu_find_segment_map(ZIPC_KIND_TOPIC_CURSOR, "rw-s", 0, &len), "no read-write cursor page");
    data_fd_refuses();
    CHECK_MSG_K(&m, sh->seed, 0, SIZE); /* unchanged */
    CHECK_OK(zipc_subscriber_release(sub));
    if (CHECK_OK(zipc_subscriber_view(sub, &m, 10000 * TU_MS))) {
        CHECK_MSG_K(&m, sh->seed, 1, SIZE);
        CHECK_OK(zipc_subscriber_release(sub));
    }
    zipc_subscriber_close(sub);
    tu_child_exit();
}

int main(void)
{
    tu_init("test_readonly", 120);
    sh = tu_shared(sizeof(*sh));
    if (!sh)
        return tu_finish();
    sh->seed = tu_mix(tu_seed ^ 0x70);
    tu_topic_name(name, "ro");
    pid_t kid = tu_fork(); /* before the topic: it inherits no endpoint */
    if (kid == 0)
        subscriber();
    zipc_publisher *p = NULL;
    if (!CHECK_OK(zipc_topic_create(&p, name, CAP, 0, NULL))) {
        tu_kill_reap(kid);
        return tu_finish();
    }
    CHECK(tu_await_subscribers(p, 1, 10000));
    CHECK_OK(tu_publish_k(p, sh->seed, 0, SIZE, 0, 5000 * TU_MS));
    CHECK_OK(tu_publish_k(p, sh->seed, 1, SIZE, 0, 5000 * TU_MS));
    CHECK_CHILD(kid, 60000);
    /* the publisher's own mapping still writes: the next message goes out */
    CHECK_OK(tu_publish_k(p, sh->seed, 2, SIZE, 0, ZIPC_TRY));
    zipc_publisher_close(p);
    return tu_finish();
}
