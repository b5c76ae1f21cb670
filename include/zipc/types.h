/* zipc built-in message kinds: type ids and the list wire format
 * (see docs/ABI.md, "Typed messages").
 *
 * A channel message carries a 32-bit type id chosen by the application. The
 * range ZIPC_TYPE_RESERVED_MIN..ZIPC_TYPE_RESERVED_MAX belongs to zipc: the
 * bindings (Python's send_object/recv_object, ...) use these ids for their
 * built-in kinds, so a C, C++ or Rust peer can produce and read them. Every
 * other id is the application's. Fixed-width little-endian fields only.
 */
#ifndef ZIPC_TYPES_H
#define ZIPC_TYPES_H

#include <stdint.h>

#include "abi.h" /* ZIPC_STATIC_ASSERT */


#define ZIPC_TYPE_RESERVED_MIN UINT32_C(0xFFFF0000)
#define ZIPC_TYPE_RESERVED_MAX UINT32_C(0xFFFFFFFF)
#define ZIPC_TYPE_IS_RESERVED(t) ((uint32_t)(t) >= ZIPC_TYPE_RESERVED_MIN)

enum zipc_builtin_type {
    ZIPC_TYPE_BYTES = 0xFFFF0001u,  /* payload: raw bytes */
    ZIPC_TYPE_STR = 0xFFFF0002u,    /* payload: UTF-8 text, no terminator */
    ZIPC_TYPE_JSON = 0xFFFF0003u,   /* payload: one UTF-8 JSON value (RFC 8259) */
    ZIPC_TYPE_TENSOR = 0xFFFF0004u, /* payload: struct zipc_tensor_header + data (zipc/tensor.h) */
    ZIPC_TYPE_LIST = 0xFFFF0005u,   /* payload: struct zipc_list_header + entries + elements */
};

/* A list: a header, `count` entries, then the elements' payloads. Element i
 * is a complete typed payload of type entries[i].type (any kind, nested lists
 * included) at [offset, offset + size) from the start of the list payload.
 * Offsets are multiples of ZIPC_LIST_ALIGN, so a nested tensor keeps its data
 * 64-byte aligned in the ring (payloads start at ring offset 16 mod 64). */
#define ZIPC_LIST_ALIGN 64

struct zipc_list_header {
    uint32_t count;
    uint32_t reserved; /* 0 */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_list_header, count) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_list_header, reserved) == 4, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_list_header) == 8, "abi");

struct zipc_list_entry {
    uint32_t type;     /* element type id */
    uint32_t reserved; /* 0 */
    uint64_t offset;   /* from the start of the list payload, multiple of ZIPC_LIST_ALIGN */
    uint64_t size;     /* element payload bytes */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_list_entry, type) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_list_entry, reserved) == 4, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_list_entry, offset) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_list_entry, size) == 16, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_list_entry) == 24, "abi");

#endif /* ZIPC_TYPES_H */
