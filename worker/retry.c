/*
 * Owns retries: whether an attempt that failed before any response byte may
 * be sent again to another server, the backoff before it, and the per-pool
 * retry budget that keeps a failing pool from a retry storm.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>

#include <event2/event.h>

#include "balancer/balancer.h"
#include "common/config.h"
#include "common/log.h"
#include "shm/shm.h"
#include "shm/stats.h"
#include "worker/conn.h"
#include "worker/worker.h"

/* Budget units: one retry costs RETRY_TOKEN. */
#define RETRY_TOKEN		1000
#define RETRY_BUDGET_CAP	(100 * RETRY_TOKEN)

void
retry_budget_earn(struct conn *c)
{
	const struct backend_conf *be = &c->w->cfg->backends[c->backend];
	struct shm_pool_sh *p = &c->w->shm->pools[be->pool_slot];

	/* Read first: once the budget is full a request writes nothing. */
	if (be->retries == 0 || be->retry_budget_pct == 0 ||
	    atomic_load_explicit(&p->retry_tokens, memory_order_relaxed) >=
	    RETRY_BUDGET_CAP)
		return;
	atomic_fetch_add_explicit(&p->retry_tokens,
	    (int64_t)be->retry_budget_pct * RETRY_TOKEN / 100,
	    memory_order_relaxed);
}

static bool
retry_budget_take(struct conn *c)
{
	const struct backend_conf *be = &c->w->cfg->backends[c->backend];
	struct shm_pool_sh *p = &c->w->shm->pools[be->pool_slot];
	int64_t t = atomic_load_explicit(&p->retry_tokens,
	    memory_order_relaxed);

	while (t >= RETRY_TOKEN)
		if (atomic_compare_exchange_weak_explicit(&p->retry_tokens,
		    &t, t - RETRY_TOKEN, memory_order_relaxed,
		    memory_order_relaxed))
			return true;
	return false;
}

/* Is there a usable server this request has not tried? */
static bool
retry_somewhere(const struct conn *c)
{
	struct bal_request req = { .exclude = c->x->tried,
	    .nexclude = c->x->ntried };

	return balancer_has_other(c->w->shm, worker_bal(c->w, c->backend),
	    &req);
}

/*
 * Why this request may not be sent again, or NULL if it may: a retry must
 * be safe (idempotent, or the failed attempt never sent a byte), complete
 * (the whole request is still buffered in uout) and within retries.
 */
static const char *
retry_refusal(const struct conn *c, bool sent)
{
	const struct backend_conf *be = &c->w->cfg->backends[c->backend];

	if (c->x->attempts > be->retries)
		return be->retries == 0 ? NULL : "retries used up";
	if (!c->x->replayable)
		return "request too large to retry";
	if (sent && !c->x->req.idempotent)
		return "non-idempotent request already sent";
	if (!retry_somewhere(c))
		return "no other server";
	return "";
}

/* Exponential backoff with jitter: base * 2^(attempt-1) * [0.5, 1.5). */
static void
retry_delay(struct conn *c, struct timeval *tv)
{
	uint64_t ms = c->w->cfg->backends[c->backend].retry_backoff_ms;
	uint64_t r = bal_random(&c->w->rng) % 1000;

	for (uint32_t i = 1; i < c->x->attempts && ms < 60000; i++)
		ms *= 2;
	ms = ms * (500 + r) / 1000;
	tv->tv_sec = (time_t)(ms / 1000);
	tv->tv_usec = (suseconds_t)(ms % 1000) * 1000;
}

void
retry_fail(struct conn *c, int status, const char *fmt, ...)
{
	const struct backend_conf *be = &c->w->cfg->backends[c->backend];
	bool sent = c->x->uout_sent > 0 || c->x->up_write_dead ||
	    c->x->replays > 0;
	const char *refusal;
	struct timeval tv;
	char cause[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	exchange_drop_attempt(c);
	refusal = retry_refusal(c, sent);
	if (refusal == NULL || refusal[0] != '\0') {
		conn_error(c, status, "%s%s%s", cause,
		    refusal ? "; not retried: " : "", refusal ? refusal : "");
		return;
	}
	if (!retry_budget_take(c)) {
		conn_error(c, status, "%s; not retried: retry budget of "
		    "backend %s exhausted", cause, be->name);
		return;
	}
	shm_stat_inc(&c->w->st.pools[be->pool_slot].retries);
	retry_delay(c, &tv);
	log_info("client %s: %s; retrying on another server in %ld ms "
	    "(attempt %u of %u)", conn_peer(c), cause, (long)(tv.tv_sec * 1000 +
	    tv.tv_usec / 1000), c->x->attempts + 1, be->retries + 1);
	evtimer_add(&c->tev, &tv);
}

void
retry_fire(struct conn *c)
{
	if (!exchange_attempt(c))
		conn_error(c, 502, "no other server left to retry on in "
		    "backend %s", c->w->cfg->backends[c->backend].name);
}
