/* CPU hints, written once: the spin-wait hint (the library's waits in
 * wait.c and the bench's spinning transports in bench/transport.h) and the
 * write prefetch (the ring's reserve). Header-only and free of
 * dependencies, so C and C++ sources outside src/ include it too. */
#ifndef ZIPC_CPU_H
#define ZIPC_CPU_H

#include <stdbool.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static inline void zipc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* Does zipc__prefetch_write ask for the line's ownership? x86: PRFCHW
 * (CPUID 0x80000001 ECX bit 8; every x86-64 AMD CPU, Intel since
 * Broadwell). CPUID may trap to the hypervisor (~1 us in a guest): ask once
 * per endpoint, never per message. */
static inline bool zipc__cpu_prefetch_write_ok(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & bit_PRFCHW);
#else
    return true; /* arm64: PRFM PSTL1KEEP; elsewhere the compiler's prefetch or nothing */
#endif
}

/* Fetch the line at p in a writable state ahead of the stores to it, so
 * the transfer of a line another core polls overlaps with the work before
 * them. A hint: it never faults and never changes memory. */
static inline void zipc__prefetch_write(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("prefetchw (%0)" : : "r"(p));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

/* The same, where the endpoint found (zipc__cpu_prefetch_write_ok, asked
 * once) that it takes ownership; a plain prefetch would fetch the line
 * shared and the store upgrade it again: nothing is better then. */
static inline void zipc__prefetch_write_if(bool owned, const void *p)
{
    if (owned)
        zipc__prefetch_write(p);
}

#endif /* ZIPC_CPU_H */
