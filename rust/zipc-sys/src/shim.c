/* zipc-sys shim: the `static inline` helpers of zipc/tensor.h as real
 * symbols, and the C compiler's view of every struct Rust mirrors (the
 * layout tests compare it with the Rust definitions). */
#include <stddef.h>
#include <stdint.h>

#include "zipc.h"
#include "zipc/tensor.h"
#include "zipc/types.h"

int zipc_sys_tensor_validate(const struct zipc_tensor_header *h, uint64_t payload_size)
{
    return zipc_tensor_validate(h, payload_size);
}

int zipc_sys_tensor_init(struct zipc_tensor_header *h, uint8_t code, uint8_t bits, uint16_t lanes,
                         unsigned ndim, const int64_t *shape)
{
    return zipc_tensor_init(h, code, bits, lanes, ndim, shape);
}

uint64_t zipc_sys_tensor_itemsize(uint8_t bits, uint16_t lanes)
{
    return zipc_tensor_itemsize(bits, lanes);
}

#define L(s, f) {#s "." #f, offsetof(struct s, f)}
#define S(s) {#s, sizeof(struct s)}

struct zipc_sys_layout_entry {
    const char *name;
    size_t value;
};

static const struct zipc_sys_layout_entry layout[] = {
    S(zipc_options), L(zipc_options, role), L(zipc_options, flags), L(zipc_options, timeout_ns),
    L(zipc_options, spin_ns), L(zipc_options, socket_mode), L(zipc_options, peer_uid),
    L(zipc_options, label), L(zipc_options, max_segment),
    S(zipc_msg), L(zipc_msg, data), L(zipc_msg, size), L(zipc_msg, type), L(zipc_msg, seq),
    L(zipc_msg, end_),
    S(zipc_channel_stats), L(zipc_channel_stats, messages), L(zipc_channel_stats, bytes),
    L(zipc_channel_stats, wakeups), L(zipc_channel_stats, sleeps),
    S(zipc_tensor_header), L(zipc_tensor_header, magic), L(zipc_tensor_header, version),
    L(zipc_tensor_header, ndim), L(zipc_tensor_header, dtype_code),
    L(zipc_tensor_header, dtype_bits), L(zipc_tensor_header, dtype_lanes),
    L(zipc_tensor_header, flags), L(zipc_tensor_header, data_offset),
    L(zipc_tensor_header, nbytes), L(zipc_tensor_header, shape), L(zipc_tensor_header, strides),
    L(zipc_tensor_header, reserved),
    S(zipc_list_header), L(zipc_list_header, count), L(zipc_list_header, reserved),
    S(zipc_list_entry), L(zipc_list_entry, type), L(zipc_list_entry, reserved),
    L(zipc_list_entry, offset), L(zipc_list_entry, size),
    S(zipc_frame), L(zipc_frame, size), L(zipc_frame, type), L(zipc_frame, mark),
    S(zipc_segment_header), L(zipc_segment_header, magic), L(zipc_segment_header, abi_major),
    L(zipc_segment_header, abi_minor), L(zipc_segment_header, kind),
    L(zipc_segment_header, segment_size), L(zipc_segment_header, header_size),
    L(zipc_segment_header, flags), L(zipc_segment_header, body_offset),
    L(zipc_segment_header, body_size), L(zipc_segment_header, creator_pid),
    L(zipc_segment_header, creator_uid), L(zipc_segment_header, created_ns),
    L(zipc_segment_header, name),
};

/* Size or offset the C compiler gives `name` ("struct" or "struct.field"),
 * or SIZE_MAX if the shim does not know it. */
size_t zipc_sys_layout(const char *name)
{
    for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++) {
        const char *a = layout[i].name, *b = name;
        while (*a && *a == *b)
            a++, b++;
        if (*a == 0 && *b == 0)
            return layout[i].value;
    }
    return SIZE_MAX;
}
