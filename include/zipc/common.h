/* zipc — what every kind shares: errors, version, timeouts, options, roles.
 *
 * Conventions (as in liburing):
 *   - every call returns int: 0 (or a count, where documented) on success,
 *     a negative errno on failure; zipc_strerror() explains each code and
 *     zipc_err_name() names it;
 *   - names are object_verb under the zipc_ prefix (zipc__ is private);
 *   - timeouts are in nanoseconds: ZIPC_TRY (0) never blocks and returns
 *     -EAGAIN, ZIPC_FOREVER (-1) waits without limit, any other value waits
 *     at most that long and returns -ETIMEDOUT.
 */
#ifndef ZIPC_COMMON_H
#define ZIPC_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

/* The one place the library version is written: CMake, setup.py and
 * zipc_version() derive it from these; Cargo.toml is checked against them. */
#define ZIPC_VERSION_MAJOR 0
#define ZIPC_VERSION_MINOR 4
#define ZIPC_VERSION_PATCH 0

#define ZIPC_TRY ((int64_t)0)
#define ZIPC_FOREVER ((int64_t)-1)

/* ------------------------------------------------------------------------
 * Errors. The codes zipc gives a meaning of its own, each with its text.
 * One map: zipc_strerror() and zipc_err_name() are generated from it, and
 * the bindings' tables are checked against it by their tests.
 * Any other code is a system call's own errno (zipc_strerror falls back to
 * the C library's text).
 * ------------------------------------------------------------------------ */
#define ZIPC_ERRNO_MAP(XX)                                                                   \
    XX(EAGAIN, "would block: no message or no space right now")                              \
    XX(ETIMEDOUT, "timed out")                                                               \
    XX(EPIPE, "peer closed or died")                                                         \
    XX(EPROTO, "peer speaks an incompatible zipc ABI version")                               \
    XX(EBADMSG, "shared segment is corrupted or hostile; the endpoint is marked broken")     \
    XX(EMSGSIZE, "message larger than the endpoint's maximum message size")                  \
    XX(EPERM, "peer credentials refused (uid not allowed)")                                  \
    XX(EACCES, "permission denied on the socket path")                                       \
    XX(EADDRINUSE, "a live listener already owns this name or path")                         \
    XX(EINTR, "interrupted by a signal")                                                     \
    XX(ECANCELED, "woken by zipc_*_interrupt() from another thread")                         \
    XX(ENOTSOCK, "path exists and is not a Unix socket")                                     \
    XX(EALREADY, "a reservation or view is already open on this endpoint")                   \
    XX(ENOENT, "no listener at this name or path")                                           \
    XX(ECONNREFUSED, "connection refused: no listener at this name or path")                 \
    XX(EOPNOTSUPP, "operation not supported by this endpoint's role")                        \
    XX(EFBIG, "the peer's segment is larger than this endpoint accepts (max_segment)")       \
    XX(EOVERFLOW, "messages were lost: the subscriber fell a whole ring behind (see last_loss)") \
    XX(ESTALE, "the view was overwritten while it was open: its bytes may be torn")      \
    XX(ENOSPC, "the object has as many members of that kind as it allows")                \
    XX(EPROTOTYPE, "the name belongs to another kind of object (a queue, an rpc service)")  \
    XX(ECONNRESET, "the worker handling the call died (or left) before replying")          \
    XX(EINVAL, "invalid argument")                                                           \
    XX(ENOMEM, "out of memory")                                                              \
    XX(ENAMETOOLONG, "name or socket path too long")                                         \
    XX(EMFILE, "too many open files")                                                        \
    XX(ENOSYS, "kernel lacks a needed feature (memfd sealing, eventfd)")

/* A static, human-readable text for a negative (or positive) errno returned
 * by any zipc call. Never NULL. Thread-safe. */
const char *zipc_strerror(int err);
/* The code's symbolic name ("EAGAIN"), for negative or positive codes; for a
 * code outside the map, the C library's name, or "EUNKNOWN". Never NULL. */
const char *zipc_err_name(int err);

/* Library version as "MAJOR.MINOR.PATCH" and the shared-memory ABI version
 * this build speaks (ZIPC_ABI_MAJOR << 16 | ZIPC_ABI_MINOR). */
const char *zipc_version(void);
uint32_t zipc_abi_version(void);

/* Copy n bytes into a reservation (or out of a view): memcpy, except where
 * the C library's memcpy is known to be slow for a ring's payload offsets
 * (glibc's rep movsb on AMD Zen, 5-8x slower when the destination sits
 * 1-31 bytes past the source within a cache line). What every send and recv
 * of zipc copies with. The ranges must not overlap. Thread-safe, never
 * blocks, allocates nothing. */
void zipc_copy(void *dst, const void *src, size_t n);

/* ------------------------------------------------------------------------
 * Options (shared by every endpoint kind). A zeroed struct, or NULL, means
 * all defaults; each field's zero value is its default.
 * ------------------------------------------------------------------------ */

#define ZIPC_DEFAULT_TIMEOUT_NS INT64_C(10000000000) /* 10 s: handshakes and attaches */
#define ZIPC_DEFAULT_SPIN_NS INT64_C(50000)          /* 50 us of spinning before a sleep */
#define ZIPC_DEFAULT_SOCKET_MODE 0600u               /* a path listener's socket file */
/* The largest segment a connector maps unless max_segment says otherwise:
 * a hostile listener cannot make it commit more memory than this. */
#define ZIPC_DEFAULT_MAX_SEGMENT (UINT64_C(1) << 30)

enum zipc_role {
    ZIPC_ROLE_DEFAULT = 0,   /* listener: consumer; connector: what the listener says */
    ZIPC_ROLE_CONSUMER = 1,
    ZIPC_ROLE_PRODUCER = 2,
};

enum zipc_option_flags {
    ZIPC_OPT_ANY_UID = 1u << 0,  /* listener: accept a peer of any uid */
    ZIPC_OPT_PEER_UID = 1u << 1, /* also accept peer_uid (besides our own euid); a
                                    connector looks the name up under peer_uid */
    ZIPC_OPT_NO_SPIN = 1u << 2,  /* sleep at once instead of spinning first */
};
#define ZIPC_OPT_ALL (ZIPC_OPT_ANY_UID | ZIPC_OPT_PEER_UID | ZIPC_OPT_NO_SPIN)

struct zipc_options {
    int32_t role;          /* enum zipc_role; only the listener chooses */
    uint32_t flags;        /* enum zipc_option_flags */
    int64_t timeout_ns;    /* handshake timeout; 0: ZIPC_DEFAULT_TIMEOUT_NS; ZIPC_FOREVER: none */
    int64_t spin_ns;       /* busy-wait before sleeping; 0: ZIPC_DEFAULT_SPIN_NS */
    uint32_t socket_mode;  /* a path listener's socket file mode; 0: ZIPC_DEFAULT_SOCKET_MODE */
    uint32_t peer_uid;     /* with ZIPC_OPT_PEER_UID */
    const char *label;     /* label stored in the segment header (tools show it); 0: the name */
    uint64_t max_segment;  /* connector: largest segment accepted (-EFBIG beyond);
                              0: ZIPC_DEFAULT_MAX_SEGMENT */
};

/* ------------------------------------------------------------------------
 * Names. Every kind is found by a name or a path:
 *   - a string with no '/' is a name: 1 to ZIPC_NAME_MAX bytes of
 *     [A-Za-z0-9._-], bound as the Linux abstract Unix socket
 *     "\0zipc/<uid>/<name>" (<uid>: our euid, or opts->peer_uid with
 *     ZIPC_OPT_PEER_UID). It vanishes with its holder: nothing on disk.
 *   - a string with a '/' is a filesystem path to a Unix socket file
 *     ("./x.sock" for a relative one).
 * ------------------------------------------------------------------------ */
#define ZIPC_NAME_MAX 63

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif

#endif /* ZIPC_COMMON_H */
