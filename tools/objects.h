/* Finding live zipc objects on this machine, for zipc ls / stat / top.
 *
 * Every member of a zipc object holds its segment as a memfd named
 * "zipc:<label>" (src/segment.c), so /proc/<pid>/fd shows it as a link to
 * "/memfd:zipc:<label> (deleted)". A scan reads those links (for the
 * processes the caller may look into), groups the fds by the file's
 * (st_dev, st_ino), and inspects each segment once through a holder's
 * /proc/<pid>/fd/<n>, opened read-only (zipc_inspect_path: the one parser;
 * no member slot is taken, nobody is woken). The label in the segment
 * header is the object's name. A topic's cursor pages are attached to their
 * topic (same label and creator) rather than listed. See docs/DESIGN.md,
 * "Tools". */
#ifndef ZIPC_TOOLS_OBJECTS_H
#define ZIPC_TOOLS_OBJECTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "zipc.h"

struct zt_holder {
    int pid, fd;
};

struct zt_segment {
    uint64_t dev, ino;
    char path[64];     /* /proc/<pid>/fd/<n> it was inspected through */
    int err;           /* zipc_inspect_path's result; info is valid when 0 */
    struct zipc_segment_info info;
    struct zt_holder *holders; /* every fd of it seen, by pid */
    unsigned nholders;
    int *pids;         /* processes holding an fd of it, ascending, distinct */
    unsigned npids;
    struct zt_segment **cursors; /* a topic: its subscribers' cursor pages */
    unsigned ncursors;
    struct zt_segment *board;    /* a store version: its name's board, if seen */
    bool part;         /* a topic's board or cursor page, a store's board: shown with its object */
};

struct zt_scan {
    struct zt_segment **seg; /* objects first-seen order; pointers stay valid */
    unsigned n;
    int64_t at_ns;           /* CLOCK_MONOTONIC when the scan finished */
};

/* Every zipc segment the caller can see. 0 or -ENOMEM. A segment that
 * vanished while scanned (all its holders gone) is left out. */
int zt_scan(struct zt_scan *s);
/* The segment behind "PID:FD": the scanned one with that file, else it is
 * inspected and added (a memfd of any name). NULL and *err if that fd
 * cannot be looked at (-EINVAL: not PID:FD). */
struct zt_segment *zt_find_fd(struct zt_scan *s, const char *pid_fd, int *err);
void zt_scan_free(struct zt_scan *s);

/* "channel", "topic", "queue", "rpc", "store", "topic-board", "store-board", ... or "kind-N". */
const char *zt_kind_name(const struct zt_segment *g);
/* The object's ring bytes (per lane for a queue; a store: its tensors' bytes), 0 if unknown. */
uint64_t zt_capacity(const struct zt_segment *g);
/* Messages and bytes put in so far (for rates), false if the kind has none. */
bool zt_totals(const struct zt_segment *g, uint64_t *messages, uint64_t *bytes);
/* Is "PID:FD" the form of s? */
bool zt_is_pid_fd(const char *s);

#endif
