/* The zipc command's subcommands (tools/zipc.c dispatches): each takes its
 * own arguments (argv[0] is the first after the command's name) and returns
 * the exit status. */
#ifndef ZIPC_TOOLS_COMMANDS_H
#define ZIPC_TOOLS_COMMANDS_H

int zipc_bridge_main(int argc, char **argv); /* tools/bridge.c: only with libzmq */
int zipc_ls_main(int argc, char **argv);
int zipc_stat_main(int argc, char **argv);
int zipc_top_main(int argc, char **argv);
int zipc_store_main(int argc, char **argv);

/* A positive number of seconds ("0.5", "2"): true and *out, else false. */
#include <stdbool.h>
bool zt_parse_seconds(const char *s, double *out);
/* Sleep, returning early (false) when SIGINT/SIGTERM asked us to stop. */
bool zt_sleep(double seconds);
/* Install the SIGINT/SIGTERM handler that zt_sleep watches. */
void zt_catch_stop(void);

#endif
