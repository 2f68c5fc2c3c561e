/* The Prometheus text exposition of weir's counters (GET /metrics). */
#ifndef WEIR_METRICS_H
#define WEIR_METRICS_H

struct evbuffer;
struct master;

/*
 * Append the whole exposition (text format 0.0.4) for the current state:
 * the current generation's frontends and servers, summed over every worker
 * that ever ran (shm/stats.h), and the master's own counters. Call it from
 * the master's event loop: the fold on reap runs there too, so a scrape
 * never sees a worker half folded (shm-types.h).
 */
void metrics_render(struct master *m, struct evbuffer *out);

#endif
