/*
 * Owns a rate limit's table of keys: a fixed-size, set-associative hash
 * table in a MAP_SHARED mapping the master makes before it forks, so every
 * worker of every generation that applies the limit decides against the
 * same timestamps, and the limit holds for the sum of the workers.
 *
 * A key (its 64-bit hash, seeded per table) lives in one of the
 * LIMIT_WAYS slots of the set its hash picks. A slot is three words:
 * key, tat (the GCRA state, limit/gcra.c) and seen (when a request of the
 * key last came). Contract, with no lock (a worker may die anywhere):
 * - tat moves only by compare-and-swap from the value the decision was
 *   made on: two workers deciding for the same key at once cannot both
 *   take the last request, whatever the interleaving.
 * - key changes (a slot handed to a new key) only by compare-and-swap
 *   from the key seen in the scan that chose the slot, so one worker wins
 *   a slot; a scan that meets the key itself uses that slot. The winner
 *   then clears a tat still ahead of now by one CAS from the value seen
 *   with the old key, so the new key starts with a full burst; a free
 *   slot's tat (<= now) is left: it is worth the same as none.
 * - A decision loads tat (acquire), then checks the slot still holds its
 *   key, then CASes tat: a tat read after a takeover is never used for
 *   the old key. A takeover that lands between that check and the CAS
 *   counts that one request against the new key instead of the old one.
 * - seen is a plain relaxed store: it only ranks slots for reuse.
 * - Two workers that both miss a key and take a slot for it at the same
 *   instant take the same slot (the first empty or free one) unless the
 *   set changed between their two scans (a slot turned free, or the
 *   least recently seen changed): then the key has two slots, lookups use
 *   the first, and what the second counted (a request or so, at the key's
 *   first request after it was forgotten) is lost until it is reused.
 *
 * Reuse, and so the bound: a slot whose tat <= now is free (its key has
 * its full burst again, so forgetting it changes nothing). A key is new
 * to the table only when its set has no copy of it; it takes the first
 * empty or free slot of the set, else the slot seen least recently, whose
 * key then starts over with a full burst. So every key is tracked exactly
 * while at most LIMIT_WAYS keys of its set are over their idle state
 * (tat > now) at once; table_size / LIMIT_WAYS sets spread the keys.
 */
#include "autoconf.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "common/hash64.h"
#include "common/log.h"
#include "limit/gcra.h"
#include "limit/table.h"

/* Bytes of a mapping with nsets sets. */
static size_t
limit_table_len(uint32_t nsets)
{
	return sizeof(struct limit_table_sh) +
	    (size_t)nsets * sizeof(struct limit_set_sh);
}

struct limit_table_sh *
limit_table_new(uint32_t size)
{
	uint32_t nsets = (size + LIMIT_WAYS - 1) / LIMIT_WAYS;
	struct limit_table_sh *t;

	if (nsets == 0)
		nsets = 1;
	t = mmap(NULL, limit_table_len(nsets), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED) {
		log_warn("mmap rate limit table of %u keys", size);
		return NULL;
	}
	/* A secret seed: clients cannot aim their keys at one set. */
	if (getrandom(&t->seed, sizeof(t->seed), 0) != sizeof(t->seed))
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ULL;
	t->nsets = nsets;
	t->size = nsets * LIMIT_WAYS;
	return t;
}

void
limit_table_free(struct limit_table_sh *t)
{
	if (t != NULL)
		munmap(t, limit_table_len(t->nsets));
}

uint64_t
limit_table_hash(const struct limit_table_sh *t, const void *p, size_t len)
{
	uint64_t h = hash64_fnv(HASH64_FNV_BASIS ^ t->seed, p, len);

	h = hash64_mix(h ^ len);
	return h != 0 ? h : 1;
}

/* The set key lives in: its high bits scaled to nsets (no modulo bias). */
static struct limit_set_sh *
limit_table_set(struct limit_table_sh *t, uint64_t key)
{
	return &t->sets[((key >> 32) * t->nsets) >> 32];
}

/* The slot of s holding key, or -1. */
static int
limit_table_find(struct limit_set_sh *s, uint64_t key)
{
	for (int i = 0; i < LIMIT_WAYS; i++)
		if (atomic_load_explicit(&s->key[i], memory_order_acquire) ==
		    key)
			return i;
	return -1;
}

/*
 * The slot of s for key: the one holding it, else one taken for it by
 * CAS (the first empty or free slot, else the one seen longest ago), or
 * -1 when another worker changed the slot first (look again).
 */
static int
limit_table_claim(struct limit_set_sh *s, uint64_t key, uint64_t now)
{
	uint64_t oldest = UINT64_MAX, k, tat, seen, vk = 0, vtat = 0;
	int v = -1;

	for (int i = 0; i < LIMIT_WAYS; i++) {
		k = atomic_load_explicit(&s->key[i], memory_order_acquire);
		if (k == key)
			return i;	/* came in since the caller looked */
		tat = atomic_load_explicit(&s->tat[i], memory_order_acquire);
		seen = atomic_load_explicit(&s->seen[i], memory_order_relaxed);
		if (k == 0 || tat <= now)
			seen = 0;	/* empty or free: before any busy one */
		if (v == -1 || seen < oldest) {
			oldest = seen;
			v = i;
			vk = k;
			vtat = tat;
		}
	}
	if (!atomic_compare_exchange_strong(&s->key[v], &vk, key))
		return -1;
	/*
	 * A reused key's debt is not the new key's: clear it by a CAS from
	 * the value seen with the old key. It fails only if the slot's tat
	 * moved since (a late request of the old key, or one of the new key
	 * that found the slot already): the new key then keeps that debt,
	 * which can only make it stricter.
	 */
	if (vtat > now)
		atomic_compare_exchange_strong(&s->tat[v], &vtat, 0);
	return v;
}

bool
limit_table_take(struct limit_table_sh *t, uint64_t key, uint64_t now,
    uint64_t interval, uint32_t burst, uint64_t *wait_ns)
{
	struct limit_set_sh *s = limit_table_set(t, key);
	uint64_t tat, next;
	int i;

	for (;;) {
		if ((i = limit_table_find(s, key)) == -1 &&
		    (i = limit_table_claim(s, key, now)) == -1)
			continue;
		atomic_store_explicit(&s->seen[i], now, memory_order_relaxed);
		for (;;) {
			tat = atomic_load_explicit(&s->tat[i],
			    memory_order_acquire);
			if (atomic_load_explicit(&s->key[i],
			    memory_order_acquire) != key)
				break;		/* taken over */
			next = gcra_cap(tat, now, interval, burst);
			/* Rare: a debt left by a slower rate or clock. */
			if (next != tat) {
				if (!atomic_compare_exchange_strong(&s->tat[i],
				    &tat, next))
					continue;
				tat = next;
			}
			if (!gcra_take(tat, now, interval, burst, &next)) {
				*wait_ns = next;
				return false;
			}
			if (atomic_compare_exchange_strong(&s->tat[i], &tat,
			    next))
				return true;
		}
	}
}

void
limit_table_refund(struct limit_table_sh *t, uint64_t key, uint64_t interval)
{
	struct limit_set_sh *s = limit_table_set(t, key);
	int i = limit_table_find(s, key);
	uint64_t tat;

	if (i == -1)
		return;		/* forgotten already: nothing to give back */
	tat = atomic_load_explicit(&s->tat[i], memory_order_acquire);
	while (atomic_load_explicit(&s->key[i], memory_order_acquire) == key &&
	    !atomic_compare_exchange_weak(&s->tat[i], &tat,
	    gcra_refund(tat, interval)))
		;
}

bool
limit_table_has(struct limit_table_sh *t, uint64_t key)
{
	return limit_table_find(limit_table_set(t, key), key) != -1;
}
