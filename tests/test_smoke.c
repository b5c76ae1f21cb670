#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "zipc.h"
static const char *P = "/tmp/zipc_smoke.sock";
static void *prod(void *a) { (void)a;
  zipc_channel *ch; int r = zipc_channel_connect(&ch, P, NULL); if (r) { printf("connect %s\n", zipc_strerror(r)); return NULL; }
  for (int i = 0; i < 100000; i++) { r = zipc_channel_send(ch, &i, sizeof i, 7, ZIPC_FOREVER); if (r) { printf("send %d %s\n", i, zipc_strerror(r)); break; } }
  zipc_channel_close(ch); return NULL; }
int main(void) {
  pthread_t t; pthread_create(&t, NULL, prod, NULL);
  zipc_channel *ch; int r = zipc_channel_listen(&ch, P, 4096, NULL); if (r) { printf("listen %s\n", zipc_strerror(r)); return 1; }
  int n = 0; struct zipc_msg m; int bad = 0;
  while ((r = zipc_channel_view(ch, &m, ZIPC_FOREVER)) == 0) { int v; memcpy(&v, m.data, 4); if (v != n || m.type != 7) bad++; n++; zipc_channel_release(ch); }
  printf("got %d bad %d end=%s\n", n, bad, zipc_strerror(r));
  pthread_join(t, NULL); zipc_channel_close(ch);
  int ok = n == 100000 && !bad && r == -EPIPE;
  printf("%d passed, %d failed\n", ok, !ok); return !ok; }
