/* The zipc command: bench, bridge, ls, stat, store, top (one file per command). */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "zipc.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: zipc <command> [options]\n"
               "\n"
               "commands:\n"
               "  bench       measure zipc against pipe, Unix socket, the cache-line floor\n"
               "              and memcpy (zipc bench --help)\n"
               "  bridge      carry a topic, queue or channel between hosts over ZeroMQ\n"
               "              (zipc bridge --help)\n"
               "  ls          every live zipc object: kind, name, members, pids (--json)\n"
               "  stat NAME   every counter of an object (--json, --watch SECONDS)\n"
               "  store       publish, hold, list and verify tensor stores (zipc store --help)\n"
               "  top         a live table of every object with its rates\n"
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
    if (!strcmp(argv[1], "bridge")) {
#ifdef ZIPC_HAVE_ZMQ
        return zipc_bridge_main(argc - 2, argv + 2);
#else
        fprintf(stderr, "zipc bridge: not built: libzmq was not found at build time "
                        "(Debian: apt-get install libzmq3-dev, then rebuild)\n");
        return 2;
#endif
    }
    if (!strcmp(argv[1], "ls"))
        return zipc_ls_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "stat"))
        return zipc_stat_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "store"))
        return zipc_store_main(argc - 2, argv + 2);
    if (!strcmp(argv[1], "top"))
        return zipc_top_main(argc - 2, argv + 2);
    fprintf(stderr, "zipc: unknown command '%s'\nTry 'zipc --help'.\n", argv[1]);
    return 2;
}
