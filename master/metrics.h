/* Prometheus metrics: GET /metrics of the admin API. Private to master/. */
#ifndef WEIR_METRICS_H
#define WEIR_METRICS_H

#include <stdint.h>

struct evbuffer;
struct master;

/* Append the text exposition format of every metric to out. */
void metrics_render(struct master *m, struct evbuffer *out);
/* Requests sent to the server in shm server slot, by every worker. */
uint64_t stats_server_requests(const struct master *m, uint32_t slot);

#endif
