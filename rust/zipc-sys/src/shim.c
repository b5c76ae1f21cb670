/* zipc-sys shim: the `static inline` helpers of zipc/tensor.h and
 * zipc/queue.h as real symbols, and the C compiler's view of every struct, constant and error
 * code Rust mirrors (the tests compare it with the Rust definitions). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

uint32_t zipc_sys_queue_msg_producer(const struct zipc_msg *m) { return zipc_queue_msg_producer(m); }
uint32_t zipc_sys_queue_msg_attempt(const struct zipc_msg *m) { return zipc_queue_msg_attempt(m); }

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
    S(zipc_subscription), L(zipc_subscription, policy), L(zipc_subscription, flags),
    L(zipc_subscription, max_lag), L(zipc_subscription, history),
    S(zipc_publisher_stats), L(zipc_publisher_stats, messages), L(zipc_publisher_stats, bytes),
    L(zipc_publisher_stats, wakeups), L(zipc_publisher_stats, sleeps),
    L(zipc_publisher_stats, subscribers), L(zipc_publisher_stats, joined),
    L(zipc_publisher_stats, departed), L(zipc_publisher_stats, died),
    L(zipc_publisher_stats, evicted),
    S(zipc_subscriber_stats), L(zipc_subscriber_stats, messages), L(zipc_subscriber_stats, bytes),
    L(zipc_subscriber_stats, lost_messages), L(zipc_subscriber_stats, lost_bytes),
    L(zipc_subscriber_stats, overflows), L(zipc_subscriber_stats, lag),
    L(zipc_subscriber_stats, wakeups), L(zipc_subscriber_stats, sleeps),
    S(zipc_queue_config), L(zipc_queue_config, lane_capacity), L(zipc_queue_config, flags),
    L(zipc_queue_config, reserved),
    S(zipc_queue_stats), L(zipc_queue_stats, messages), L(zipc_queue_stats, bytes),
    L(zipc_queue_stats, redelivered), L(zipc_queue_stats, wakeups), L(zipc_queue_stats, sleeps),
    L(zipc_queue_stats, reclaimed),
    S(zipc_rpc_config), L(zipc_rpc_config, lane_capacity), L(zipc_rpc_config, reserved),
    S(zipc_rpc_reply), L(zipc_rpc_reply, id), L(zipc_rpc_reply, data), L(zipc_rpc_reply, size),
    L(zipc_rpc_reply, type), L(zipc_rpc_reply, status), L(zipc_rpc_reply, method),
    L(zipc_rpc_reply, flags), L(zipc_rpc_reply, part),
    S(zipc_rpc_request), L(zipc_rpc_request, id), L(zipc_rpc_request, data), L(zipc_rpc_request, size),
    L(zipc_rpc_request, method), L(zipc_rpc_request, flags), L(zipc_rpc_request, attempt),
    L(zipc_rpc_request, deadline_ns), L(zipc_rpc_request, reply), L(zipc_rpc_request, reply_capacity),
    L(zipc_rpc_request, lane_),
    S(zipc_store_tensor), L(zipc_store_tensor, name), L(zipc_store_tensor, dtype), L(zipc_store_tensor, ndim),
    L(zipc_store_tensor, shape), L(zipc_store_tensor, data), L(zipc_store_tensor, size),
    S(zipc_store_kv), L(zipc_store_kv, key), L(zipc_store_kv, value), L(zipc_store_kv, value_len),
    S(zipc_store_options), L(zipc_store_options, options), L(zipc_store_options, align),
    L(zipc_store_options, flags), L(zipc_store_options, reserved), L(zipc_store_options, metadata),
    L(zipc_store_options, nmeta), L(zipc_store_options, error), L(zipc_store_options, error_len),
    S(zipc_store_info), L(zipc_store_info, name), L(zipc_store_info, name_len), L(zipc_store_info, dtype),
    L(zipc_store_info, bits), L(zipc_store_info, ndim), L(zipc_store_info, index), L(zipc_store_info, shape),
    L(zipc_store_info, strides), L(zipc_store_info, data), L(zipc_store_info, size), L(zipc_store_info, xxh3),
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
    for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++)
        if (strcmp(layout[i].name, name) == 0)
            return layout[i].value;
    return SIZE_MAX;
}

#define K(name) {#name, (int64_t)(name)}

struct zipc_sys_constant_entry {
    const char *name;
    int64_t value;
};

static const struct zipc_sys_constant_entry constants[] = {
    K(ZIPC_VERSION_MAJOR), K(ZIPC_VERSION_MINOR), K(ZIPC_VERSION_PATCH),
    K(ZIPC_TRY), K(ZIPC_FOREVER),
    K(ZIPC_DEFAULT_TIMEOUT_NS), K(ZIPC_DEFAULT_SPIN_NS), K(ZIPC_DEFAULT_SOCKET_MODE),
    K(ZIPC_DEFAULT_MAX_SEGMENT), K(ZIPC_NAME_MAX),
    K(ZIPC_ROLE_DEFAULT), K(ZIPC_ROLE_CONSUMER), K(ZIPC_ROLE_PRODUCER),
    K(ZIPC_OPT_ANY_UID), K(ZIPC_OPT_PEER_UID), K(ZIPC_OPT_NO_SPIN), K(ZIPC_OPT_ALL),
    K(ZIPC_COMMIT_MORE),
    K(ZIPC_TOPIC_DEFAULT_SUBSCRIBERS), K(ZIPC_TOPIC_MAX_SUBSCRIBERS),
    K(ZIPC_SUB_BLOCK), K(ZIPC_SUB_DROP_OLDEST), K(ZIPC_SUB_MAX_LAG), K(ZIPC_SUB_RESUME_NEWEST),
    K(ZIPC_TYPE_ANY),
    K(ZIPC_QUEUE_MAX_PRODUCERS), K(ZIPC_QUEUE_MAX_CONSUMERS), K(ZIPC_QUEUE_DEFAULT_LANE),
    K(ZIPC_QUEUE_MAX_LANE), K(ZIPC_QUEUE_AT_MOST_ONCE),
    K(ZIPC_RPC_ANY), K(ZIPC_RPC_DEFAULT_REPLY), K(ZIPC_RPC_IDEMPOTENT), K(ZIPC_RPC_REPLY_MORE),
    K(ZIPC_STORE_MAX_NDIM), K(ZIPC_STORE_ALL), K(ZIPC_STORE_BOOL), K(ZIPC_STORE_U8), K(ZIPC_STORE_I8),
    K(ZIPC_STORE_U16), K(ZIPC_STORE_I16), K(ZIPC_STORE_U32), K(ZIPC_STORE_I32), K(ZIPC_STORE_U64),
    K(ZIPC_STORE_I64), K(ZIPC_STORE_F16), K(ZIPC_STORE_BF16), K(ZIPC_STORE_F32), K(ZIPC_STORE_F64),
    K(ZIPC_STORE_C64), K(ZIPC_STORE_F8_E4M3), K(ZIPC_STORE_F8_E5M2), K(ZIPC_STORE_F8_E4M3FNUZ),
    K(ZIPC_STORE_F8_E5M2FNUZ), K(ZIPC_STORE_F8_E8M0), K(ZIPC_STORE_F6_E2M3), K(ZIPC_STORE_F6_E3M2),
    K(ZIPC_STORE_F4), K(ZIPC_STORE_NDTYPES), K(ZIPC_STORE_PREFAULT), K(ZIPC_STORE_VERIFY),
    K(ZIPC_ABI_MAJOR), K(ZIPC_ABI_MINOR), K(ZIPC_SEGMENT_MAGIC), K(ZIPC_CACHE_LINE),
    K(ZIPC_MIN_CAPACITY), K(ZIPC_MAX_CAPACITY), K(ZIPC_FRAME_HEADER), K(ZIPC_FRAME_ALIGN),
    K(ZIPC_TYPE_RESERVED_MIN), K(ZIPC_TYPE_BYTES), K(ZIPC_TYPE_STR), K(ZIPC_TYPE_JSON),
    K(ZIPC_TYPE_TENSOR), K(ZIPC_TYPE_LIST), K(ZIPC_LIST_ALIGN),
    K(ZIPC_TENSOR_MAGIC), K(ZIPC_TENSOR_VERSION), K(ZIPC_TENSOR_MAX_NDIM),
    K(ZIPC_TENSOR_DATA_OFFSET),
    K(ZIPC_DTYPE_INT), K(ZIPC_DTYPE_UINT), K(ZIPC_DTYPE_FLOAT), K(ZIPC_DTYPE_BFLOAT),
    K(ZIPC_DTYPE_COMPLEX), K(ZIPC_DTYPE_BOOL),
};

/* The C value of the macro `name`, in *value: 0, or -1 if the shim does not know it. */
int zipc_sys_constant(const char *name, int64_t *value)
{
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        if (strcmp(constants[i].name, name) == 0) {
            *value = constants[i].value;
            return 0;
        }
    }
    return -1;
}

static const int errno_map[] = {
#define ZIPC_SYS_CODE(err, text) err,
    ZIPC_ERRNO_MAP(ZIPC_SYS_CODE)
#undef ZIPC_SYS_CODE
};

/* The i-th code of ZIPC_ERRNO_MAP, or 0 past its end. */
int zipc_sys_errno_map(size_t i)
{
    return i < sizeof errno_map / sizeof errno_map[0] ? errno_map[i] : 0;
}
