/* Store internals shared by its files (include/zipc/store.h is the API):
 *   store.c          the segment's validation (the trust boundary), the kind's
 *                    descriptor and bind, queries, verify, close
 *   store_publish.c  building a version: arguments, layout, copy + hash, seal;
 *                    from a safetensors file
 *   store_door.c     names: each holder's door, finding the newest version,
 *                    the board, the name's lock, announcing a new version
 * See docs/DESIGN.md §14 and docs/ABI.md §15. */
#ifndef ZIPC_STORE_INTERNAL_H
#define ZIPC_STORE_INTERNAL_H

#include <pthread.h>
#include <sys/types.h>

#include "internal.h"
#include "zipc/store.h"

/* The largest store segment an opener maps unless max_segment says less:
 * nothing is pre-faulted, so this bounds address space only. */
#define ZIPC__STORE_MAX_SEGMENT (UINT64_C(1) << 40)
/* Doors per name: holders bind "<name>#0" .. "#<n-1>"; one more holder
 * holds its version without serving it. */
#define ZIPC__STORE_DOORS 64

/* Welcome fds: the version's segment, then the name's board. */
enum { ZIPC__FD_STORE_BOARD = ZIPC__FD_SEGMENT + 1, ZIPC__STORE_NFDS };

struct zipc_store {
    /* ---- the version (read-only, sealed: validated once at bind) ---- */
    struct zipc__segment seg;
    const struct zipc_store_ctl *ctl;
    const struct zipc_store_entry *entries; /* ntensors, by name */
    const struct zipc_store_meta *meta;     /* nmeta, by key */
    const char *strings;
    uint32_t ntensors, nmeta;
    uint64_t version;
    /* ---- the name ---- */
    struct zipc__segment board_seg;         /* read-write, shared by every holder */
    struct zipc_store_board *board;
    struct zipc__opts opts;
    struct zipc__addr addr;                 /* the name; doors are "<name>#<k>" */
    uint32_t flags;                         /* enum zipc_store_flags */
    /* ---- the door (store_door.c) ---- */
    int lsock;                              /* -1: not serving */
    struct zipc__door_guard guard;          /* a forked child closes lsock */
    int stop_fd;
    pthread_t helper;
    bool helper_running;
    pid_t owner;                            /* the process whose helper it is */
};

/* store.c */
extern const struct zipc__kind_desc zipc__store_kind;
/* Is base[0..size) a well-formed store version (everything after the
 * generic header, which the attach checked)? 0 or -EBADMSG. */
int zipc__store_check(const uint8_t *base, uint64_t size);
/* Point s at the version in seg (checked by zipc__store_check); takes seg. */
void zipc__store_adopt_version(zipc_store *s, struct zipc__segment *seg);
zipc_store *zipc__store_new(void);
void zipc__store_free(zipc_store *s);
/* zipc__endpoint_adopt with the store's descriptor into a new handle (no
 * door yet): the opener's trust boundary, and the tests' and fuzzers'
 * entry point. fds: [segment, board]; ownership as zipc__channel_adopt. */
int zipc__store_adopt(zipc_store **out, int fds[ZIPC__STORE_NFDS], const struct zipc__opts *o);
/* Resolve the public options (NULL: defaults) into s->opts, s->flags, s->addr. */
int zipc__store_setup(zipc_store *s, const char *name, const struct zipc_store_options *opts);

/* store_door.c */
/* The newest version served under s->addr, adopted into a new handle. */
int zipc__store_find_newest(const zipc_store *s, zipc_store **out, int64_t deadline);
/* Hold the name's lock ("<name>#lock") for a publish: *lock until closed. */
int zipc__store_lock(const zipc_store *s, int64_t deadline, int *lock);
/* A new board (latest 0) for a name nobody serves, labelled as its
 * versions (the name, or the publisher's label): tools find it by that. */
int zipc__store_board_create(zipc_store *s, const char *label);
/* Serve the name: bind a free door and start the helper (a holder of an
 * older version than the board's latest does not serve). */
int zipc__store_serve(zipc_store *s);
void zipc__store_stop(zipc_store *s);
/* Make s's version the newest: the board's latest moves up to it. */
void zipc__store_announce(zipc_store *s);

#endif /* ZIPC_STORE_INTERNAL_H */
