/* The spin-wait hint, written once: the library's waits (wait.c) and the
 * bench's spinning transports (bench/transport.h) use it. Header-only and
 * free of dependencies, so C and C++ sources outside src/ include it too. */
#ifndef ZIPC_CPU_H
#define ZIPC_CPU_H

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

#endif /* ZIPC_CPU_H */
