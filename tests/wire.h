/* Raw ABI pieces shared by the tests' fake peers (rawpeer.h) and the
 * fuzzers: written from docs/ABI.md, independently of src/, so the tests
 * check the library against the document rather than against itself. */
#ifndef ZIPC_TEST_WIRE_H
#define ZIPC_TEST_WIRE_H

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "zipc/abi.h"

#define WIRE_MAX_FDS 8

/* sendmsg of len bytes with nfds fds (SCM_RIGHTS) riding on the first byte. */
static inline ssize_t wire_sendmsg(int sock, const void *buf, size_t len, const int *fds, int nfds, int flags)
{
    union {
        struct cmsghdr align;
        char b[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
    } ctl;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > WIRE_MAX_FDS)
        nfds = WIRE_MAX_FDS;
    if (nfds > 0) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    return sendmsg(sock, &mh, flags);
}

/* A valid generic header for a channel segment of seg_size bytes. */
static inline void wire_channel_header(struct zipc_segment_header *h, uint64_t seg_size, uint32_t pid,
                                       uint32_t uid, const char *name)
{
    memset(h, 0, sizeof(*h));
    h->magic = ZIPC_SEGMENT_MAGIC;
    h->abi_major = ZIPC_ABI_MAJOR;
    h->abi_minor = ZIPC_ABI_MINOR;
    h->kind = ZIPC_KIND_CHANNEL;
    h->segment_size = seg_size;
    h->header_size = sizeof(*h);
    h->body_offset = ZIPC_CHANNEL_BODY_OFFSET;
    h->body_size = sizeof(struct zipc_channel_ctl);
    h->creator_pid = pid;
    h->creator_uid = uid;
    snprintf(h->name, sizeof(h->name), "%s", name);
}

#endif
