/*
 * A rate limit's table of keys in shared memory: fixed size, made by the
 * master before it forks, shared by every worker that applies the limit.
 */
#ifndef WEIR_LIMIT_TABLE_H
#define WEIR_LIMIT_TABLE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIMIT_WAYS	8	/* slots a key may live in (one set) */

/* One set: a key hashes to one; each array is one cache line. */
struct limit_set_sh {
	alignas(64) _Atomic uint64_t key[LIMIT_WAYS];	/* 0: empty */
	alignas(64) _Atomic uint64_t tat[LIMIT_WAYS];	/* GCRA TAT, ns */
	alignas(64) _Atomic uint64_t seen[LIMIT_WAYS];	/* last request */
};

struct limit_table_sh {
	alignas(64) uint64_t seed;	/* master, before any fork */
	uint32_t nsets;
	uint32_t size;			/* slots: nsets * LIMIT_WAYS */
	struct limit_set_sh sets[];
};

/* Map a zeroed table of at least size slots (MAP_SHARED); NULL on error. */
struct limit_table_sh *limit_table_new(uint32_t size);
void limit_table_free(struct limit_table_sh *t);
/* The key of len bytes at p, as the table hashes it (never 0). */
uint64_t limit_table_hash(const struct limit_table_sh *t, const void *p,
    size_t len);
/*
 * One request of key (a limit_table_hash()) at now under the limit's
 * interval and burst: true if it may pass, else false and *wait_ns until
 * one would.
 */
bool limit_table_take(struct limit_table_sh *t, uint64_t key, uint64_t now,
    uint64_t interval, uint32_t burst, uint64_t *wait_ns);
/*
 * Give back one request key took with interval (limit_table_take() granted
 * it, a later limit refused the request). Nothing if the key was
 * forgotten meanwhile.
 */
void limit_table_refund(struct limit_table_sh *t, uint64_t key,
    uint64_t interval);
/* Does the table hold key (tests)? */
bool limit_table_has(struct limit_table_sh *t, uint64_t key);

#endif
