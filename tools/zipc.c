/* The zipc command: `zipc bench` (and later stat/ls). */
#include <stdio.h>
#include <string.h>

#include "zipc.h"

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        printf("usage: zipc bench [options]\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("zipc %s (ABI %u.%u)\n", zipc_version(), zipc_abi_version() >> 16, zipc_abi_version() & 0xffff);
        return 0;
    }
    fprintf(stderr, "zipc: unknown command '%s'\n", argv[1]);
    return 2;
}
