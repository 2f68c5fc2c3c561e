/*
 * Fixed-size objects (a worker's connections) carved from slabs that are
 * mapped on their own. A slab whose objects are all free goes back to the
 * system (one is kept spare), so the memory a flood of connections took is
 * returned as soon as they close, whatever the heap holds meanwhile.
 */
#ifndef WEIR_SLAB_H
#define WEIR_SLAB_H

#include <stddef.h>
#include <stdint.h>

struct slab;

struct slab_cache {
	size_t obj_size;	/* rounded up to 16 */
	uint32_t per_slab;	/* objects a slab holds */
	struct slab *partial;	/* slabs with room, most recently freed into first */
	struct slab *spare;	/* one empty slab kept mapped */
	uint32_t nslabs;	/* mapped, spare included */
};

void slab_init(struct slab_cache *sc, size_t obj_size);
/* An object (its bytes undefined), or NULL when out of memory. */
void *slab_alloc(struct slab_cache *sc);
void slab_free(struct slab_cache *sc, void *obj);
/* Unmap every slab: no object may be in use any more. */
void slab_clear(struct slab_cache *sc);

#endif
