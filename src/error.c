/* Error texts and names, generated from ZIPC_ERRNO_MAP; version queries. */
#include <string.h>

#include "internal.h"

#define ZIPC__STR_(x) #x
#define ZIPC__STR(x) ZIPC__STR_(x)

/* |err| without overflow: INT_MIN is a negative code too (and unknown). */
static unsigned magnitude(int err) { return err < 0 ? 0u - (unsigned)err : (unsigned)err; }

const char *zipc_strerror(int err)
{
    switch (magnitude(err)) {
    case 0: return "success";
#define XX(code, text) case code: return text;
    ZIPC_ERRNO_MAP(XX)
#undef XX
    default: {
        const char *s = strerrordesc_np((int)magnitude(err)); /* thread-safe, static */
        return s ? s : "unknown error";
    }
    }
}

const char *zipc_err_name(int err)
{
    switch (magnitude(err)) {
    case 0: return "OK";
#define XX(code, text) case code: return #code;
    ZIPC_ERRNO_MAP(XX)
#undef XX
    default: {
        const char *s = strerrorname_np((int)magnitude(err)); /* glibc >= 2.32, static */
        return s ? s : "EUNKNOWN";
    }
    }
}

const char *zipc_version(void)
{
    return ZIPC__STR(ZIPC_VERSION_MAJOR) "." ZIPC__STR(ZIPC_VERSION_MINOR) "." ZIPC__STR(ZIPC_VERSION_PATCH);
}

uint32_t zipc_abi_version(void) { return (uint32_t)ZIPC_ABI_MAJOR << 16 | ZIPC_ABI_MINOR; }
