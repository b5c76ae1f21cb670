/* zipc tensor messages: the header that describes an n-dimensional array in
 * a message payload (type ZIPC_TYPE_TENSOR, see zipc/types.h and
 * docs/ABI.md, "Tensor messages").
 *
 * Payload: [struct zipc_tensor_header | padding | data]. The dtype is a
 * DLPack data type (code, bits, lanes); shape and strides count elements,
 * like DLPack's. zipc writers put the data at ZIPC_TENSOR_DATA_OFFSET: a
 * channel payload starts at ring offset 16 mod 64, so the data lands 64-byte
 * aligned in the ring. Readers take data_offset from the header (after
 * validating it) and must not assume the constant.
 *
 * The header sits in shared memory the peer can still write: copy it to a
 * local struct, validate the copy with zipc_tensor_validate(), then use only
 * the copy.
 */
#ifndef ZIPC_TENSOR_H
#define ZIPC_TENSOR_H

#include <errno.h>
#include <stdint.h>

#include "abi.h" /* ZIPC_STATIC_ASSERT */
#include <string.h>


#define ZIPC_TENSOR_MAGIC UINT32_C(0x534e545a) /* "ZTNS" */
#define ZIPC_TENSOR_VERSION 1
#define ZIPC_TENSOR_MAX_NDIM 8
#define ZIPC_TENSOR_DATA_OFFSET 176 /* 16 + 176 = 192 = 3 * 64 */

/* DLPack data type codes (DLDataTypeCode in the DLPack spec). */
enum zipc_dtype_code {
    ZIPC_DTYPE_INT = 0,
    ZIPC_DTYPE_UINT = 1,
    ZIPC_DTYPE_FLOAT = 2,
    ZIPC_DTYPE_BFLOAT = 4,
    ZIPC_DTYPE_COMPLEX = 5,
    ZIPC_DTYPE_BOOL = 6,
};

struct zipc_tensor_header {
    uint32_t magic;        /* ZIPC_TENSOR_MAGIC */
    uint16_t version;      /* ZIPC_TENSOR_VERSION */
    uint16_t ndim;         /* 0..ZIPC_TENSOR_MAX_NDIM */
    uint8_t dtype_code;    /* enum zipc_dtype_code */
    uint8_t dtype_bits;    /* bits per lane, a multiple of 8 */
    uint16_t dtype_lanes;  /* >= 1 */
    uint32_t flags;        /* reserved, 0 */
    uint64_t data_offset;  /* from the start of the payload, >= sizeof(header) */
    uint64_t nbytes;       /* bytes of data from data_offset */
    int64_t shape[ZIPC_TENSOR_MAX_NDIM];   /* >= 0; entries >= ndim are 0 */
    int64_t strides[ZIPC_TENSOR_MAX_NDIM]; /* in elements, >= 0; entries >= ndim are 0 */
    uint8_t reserved[16];  /* 0 */
};
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, magic) == 0, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, version) == 4, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, ndim) == 6, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, dtype_code) == 8, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, dtype_bits) == 9, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, dtype_lanes) == 10, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, flags) == 12, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, data_offset) == 16, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, nbytes) == 24, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, shape) == 32, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, strides) == 96, "abi");
ZIPC_STATIC_ASSERT(__builtin_offsetof(struct zipc_tensor_header, reserved) == 160, "abi");
ZIPC_STATIC_ASSERT(sizeof(struct zipc_tensor_header) == ZIPC_TENSOR_DATA_OFFSET, "abi");
ZIPC_STATIC_ASSERT((16 + ZIPC_TENSOR_DATA_OFFSET) % 64 == 0, "data is 64-byte aligned in the ring");

/* Bytes per element, or 0 for a malformed dtype. */
static inline uint64_t zipc_tensor_itemsize(uint8_t bits, uint16_t lanes)
{
    if (bits == 0 || bits % 8 || lanes == 0)
        return 0;
    return (uint64_t)(bits / 8) * lanes;
}

/* Fill *h for a C-contiguous tensor whose data follows at
 * ZIPC_TENSOR_DATA_OFFSET. Returns 0, or -EINVAL (bad dtype, ndim, negative
 * dimension) / -EOVERFLOW (byte size does not fit in 63 bits). The payload
 * to reserve is h->data_offset + h->nbytes. */
static inline int zipc_tensor_init(struct zipc_tensor_header *h, uint8_t code, uint8_t bits,
                                   uint16_t lanes, unsigned ndim, const int64_t *shape)
{
    uint64_t item = zipc_tensor_itemsize(bits, lanes);
    if (item == 0 || ndim > ZIPC_TENSOR_MAX_NDIM)
        return -EINVAL;
    memset(h, 0, sizeof *h);
    h->magic = ZIPC_TENSOR_MAGIC;
    h->version = ZIPC_TENSOR_VERSION;
    h->ndim = (uint16_t)ndim;
    h->dtype_code = code;
    h->dtype_bits = bits;
    h->dtype_lanes = lanes;
    h->data_offset = ZIPC_TENSOR_DATA_OFFSET;
    uint64_t count = 1;
    for (unsigned i = ndim; i-- > 0;) {
        if (shape[i] < 0)
            return -EINVAL;
        h->shape[i] = shape[i];
        h->strides[i] = (int64_t)count; /* C order: the last dimension is contiguous */
        if (__builtin_mul_overflow(count, (uint64_t)shape[i], &count) || count > INT64_MAX)
            return -EOVERFLOW;
    }
    if (__builtin_mul_overflow(count, item, &h->nbytes) || h->nbytes > INT64_MAX)
        return -EOVERFLOW;
    return 0;
}

/* Validate a local copy of a header found in a payload of payload_size
 * bytes. Never trusts the peer: checks magic, version, dtype, ndim, that
 * shape and strides are non-negative, that every element addressed by
 * shape/strides lies within nbytes, and that the data lies within the
 * payload. Returns 0 or -EBADMSG. */
static inline int zipc_tensor_validate(const struct zipc_tensor_header *h, uint64_t payload_size)
{
    uint64_t item = zipc_tensor_itemsize(h->dtype_bits, h->dtype_lanes);
    if (h->magic != ZIPC_TENSOR_MAGIC || h->version != ZIPC_TENSOR_VERSION || item == 0 ||
        h->ndim > ZIPC_TENSOR_MAX_NDIM)
        return -EBADMSG;
    if (h->data_offset < sizeof *h || h->data_offset > payload_size ||
        h->nbytes > payload_size - h->data_offset)
        return -EBADMSG;
    uint64_t last = 0; /* element index of the farthest element */
    int empty = 0;
    for (unsigned i = 0; i < h->ndim; i++) {
        if (h->shape[i] < 0 || h->strides[i] < 0)
            return -EBADMSG;
        if (h->shape[i] == 0)
            empty = 1;
    }
    if (empty)
        return 0; /* no element is ever addressed */
    for (unsigned i = 0; i < h->ndim; i++) {
        uint64_t span;
        if (__builtin_mul_overflow((uint64_t)(h->shape[i] - 1), (uint64_t)h->strides[i], &span) ||
            __builtin_add_overflow(last, span, &last))
            return -EBADMSG;
    }
    uint64_t extent; /* bytes from the data start to the end of the farthest element */
    if (__builtin_add_overflow(last, 1, &extent) || __builtin_mul_overflow(extent, item, &extent) ||
        extent > h->nbytes)
        return -EBADMSG;
    return 0;
}

#endif /* ZIPC_TENSOR_H */
