/* Owns slabs of fixed-size objects (see slab.h). */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "worker/poison.h"
#include "worker/slab.h"


/* A slab is this big and this aligned: an object finds its slab by masking. */
#define SLAB_SIZE	((size_t)64 * 1024)

struct slab {
	struct slab *prev, *next;	/* on sc->partial while it has room */
	void *free;			/* freed objects, linked through their
					 * first word */
	uint32_t used;			/* objects handed out now */
	uint32_t carved;		/* objects ever handed out: the rest
					 * of the slab was never touched */
	bool listed;			/* on sc->partial */
};

/* Objects start after the header, 16-aligned. */
#define SLAB_HEAD	((sizeof(struct slab) + 15) & ~(size_t)15)

void
slab_init(struct slab_cache *sc, size_t obj_size)
{
	sc->obj_size = (obj_size + 15) & ~(size_t)15;
	sc->per_slab = (uint32_t)((SLAB_SIZE - SLAB_HEAD) / sc->obj_size);
	sc->partial = sc->spare = NULL;
	sc->nslabs = 0;
}

/* Map a SLAB_SIZE-aligned slab: map twice the size, unmap the overhang. */
static struct slab *
slab_map(struct slab_cache *sc)
{
	char *p, *aligned;
	size_t lead;

	p = mmap(NULL, 2 * SLAB_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	aligned = (char *)(((uintptr_t)p + SLAB_SIZE - 1) &
	    ~(uintptr_t)(SLAB_SIZE - 1));
	lead = (size_t)(aligned - p);
	if (lead > 0)
		munmap(p, lead);
	munmap(aligned + SLAB_SIZE, SLAB_SIZE - lead);
	sc->nslabs++;
	POISON(aligned + SLAB_HEAD, SLAB_SIZE - SLAB_HEAD);
	return (struct slab *)(void *)aligned;
}

static void
slab_link(struct slab_cache *sc, struct slab *s)
{
	s->prev = NULL;
	s->next = sc->partial;
	if (sc->partial != NULL)
		sc->partial->prev = s;
	sc->partial = s;
	s->listed = true;
}

static void
slab_unlink(struct slab_cache *sc, struct slab *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sc->partial = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->listed = false;
}

/* A slab with room: the spare, or a new one. */
static struct slab *
slab_fresh(struct slab_cache *sc)
{
	struct slab *s = sc->spare;

	if (s != NULL)
		sc->spare = NULL;
	else if ((s = slab_map(sc)) == NULL)
		return NULL;
	s->free = NULL;
	s->used = s->carved = 0;
	slab_link(sc, s);
	return s;
}

void *
slab_alloc(struct slab_cache *sc)
{
	struct slab *s = sc->partial;
	char *obj;

	if (s == NULL && (s = slab_fresh(sc)) == NULL)
		return NULL;
	if (s->free != NULL) {
		obj = s->free;
		UNPOISON(obj, sc->obj_size);
		s->free = *(void **)(void *)obj;
	} else {
		obj = (char *)s + SLAB_HEAD + (size_t)s->carved * sc->obj_size;
		UNPOISON(obj, sc->obj_size);
		s->carved++;
	}
	if (++s->used == sc->per_slab)
		slab_unlink(sc, s);
	return obj;
}

void
slab_free(struct slab_cache *sc, void *obj)
{
	struct slab *s = (struct slab *)(void *)((uintptr_t)obj &
	    ~(uintptr_t)(SLAB_SIZE - 1));

	*(void **)obj = s->free;
	s->free = obj;
	POISON(obj, sc->obj_size);
	if (!s->listed)
		slab_link(sc, s);
	if (--s->used > 0)
		return;
	slab_unlink(sc, s);
	if (sc->spare == NULL) {
		sc->spare = s;
		return;
	}
	munmap(s, SLAB_SIZE);
	sc->nslabs--;
}

void
slab_clear(struct slab_cache *sc)
{
	if (sc->spare != NULL) {
		munmap(sc->spare, SLAB_SIZE);
		sc->nslabs--;
	}
	sc->spare = NULL;
}
