/* Error texts and version queries. */
#include <string.h>

#include "internal.h"

const char *zipc_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case 0: return "success";
    case EAGAIN: return "would block: no message or no space right now";
    case ETIMEDOUT: return "timed out";
    case EPIPE: return "peer closed or died";
    case EPROTO: return "peer speaks an incompatible zipc ABI version";
    case EBADMSG: return "shared segment is corrupted or hostile; channel marked broken";
    case EMSGSIZE: return "message larger than the channel's maximum message size";
    case EPERM: return "peer credentials refused (uid not allowed)";
    case EACCES: return "permission denied on the socket path";
    case EADDRINUSE: return "a live listener already owns this socket path";
    case EINTR: return "interrupted by a signal";
    case ENOTSOCK: return "path exists and is not a Unix socket";
    case EALREADY: return "a reservation is already open on this endpoint";
    case ENOENT: return "no listener at this socket path";
    case ECONNREFUSED: return "connection refused: no listener at this socket path";
    case EINVAL: return "invalid argument";
    case ENOMEM: return "out of memory";
    case ENAMETOOLONG: return "socket path too long";
    case EMFILE: return "too many open files";
    case ENOSYS: return "kernel lacks a needed feature (memfd sealing, eventfd)";
    case EOPNOTSUPP: return "operation not supported by this endpoint's role";
    default: {
        const char *s = strerrordesc_np(err < 0 ? -err : err); /* thread-safe, static */
        return s ? s : "unknown error";
    }
    }
}

const char *zipc_version(void) { return "0.1.0"; }

uint32_t zipc_abi_version(void) { return (uint32_t)ZIPC_ABI_MAJOR << 16 | ZIPC_ABI_MINOR; }
