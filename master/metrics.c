/*
 * Renders GET /metrics. A stub until the counters land: build information
 * only, and no per-server request counts yet.
 */
#include "autoconf.h"

#include <event2/buffer.h>

#include "master/master.h"
#include "master/metrics.h"

void
metrics_render(struct master *m, struct evbuffer *out)
{
	(void)m;
	evbuffer_add_printf(out,
	    "# HELP weir_build_info Version of the running weir.\n"
	    "# TYPE weir_build_info gauge\n"
	    "weir_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
}

uint64_t
stats_server_requests(const struct master *m, uint32_t slot)
{
	(void)m;
	(void)slot;
	return 0;
}
