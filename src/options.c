/* Options shared by every endpoint kind: validated once, defaults applied. */
#include "internal.h"

int zipc__opts_resolve(const struct zipc_options *in, struct zipc__opts *o)
{
    struct zipc_options z = {0};
    if (!in)
        in = &z;
    if (in->role < ZIPC_ROLE_DEFAULT || in->role > ZIPC_ROLE_PRODUCER || in->timeout_ns < -1 ||
        in->spin_ns < 0 || (in->flags & ~(uint32_t)ZIPC_OPT_ALL) || (in->socket_mode & ~0777u))
        return -EINVAL;
    o->role = in->role;
    o->flags = in->flags;
    o->timeout_ns = in->timeout_ns ? in->timeout_ns : ZIPC_DEFAULT_TIMEOUT_NS;
    o->spin_ns = (in->flags & ZIPC_OPT_NO_SPIN) ? 0 : in->spin_ns ? in->spin_ns : ZIPC_DEFAULT_SPIN_NS;
    o->socket_mode = in->socket_mode ? in->socket_mode : ZIPC_DEFAULT_SOCKET_MODE;
    o->peer_uid = in->peer_uid;
    o->label = in->label;
    o->max_segment = in->max_segment ? in->max_segment : ZIPC_DEFAULT_MAX_SEGMENT;
    return 0;
}
