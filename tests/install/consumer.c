/* Links against an installed or embedded zipc and uses it. */
#include <stdio.h>
#include <zipc.h>

int main(void)
{
    zipc_channel *ch;
    int err = zipc_channel_connect(&ch, "/nonexistent-dir/zipc.sock", &(struct zipc_options){.timeout_ns = 1000000});
    printf("zipc %s: connect to a missing path: %s\n", zipc_version(), zipc_strerror(err));
    return err == -ENOENT ? 0 : 1;
}
