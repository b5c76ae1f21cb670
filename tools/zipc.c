/* The zipc command: `zipc bench` (ls and stat come with the tools issue). */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "zipc.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: zipc <command> [options]\n"
               "\n"
               "commands:\n"
               "  bench       measure zipc against pipe, Unix socket, the cache-line floor\n"
               "              and memcpy (zipc bench --help)\n"
               "\n"
               "  --version   print the library and ABI versions\n"
               "  --help      this text\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("zipc %s (ABI %u.%u)\n", zipc_version(), zipc_abi_version() >> 16, zipc_abi_version() & 0xffff);
        return 0;
    }
    if (!strcmp(argv[1], "bench"))
        return zipc_bench_main(argc - 2, argv + 2);
    fprintf(stderr, "zipc: unknown command '%s'\nTry 'zipc --help'.\n", argv[1]);
    return 2;
}
