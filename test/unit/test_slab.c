/* slab.c: objects are distinct and aligned, and empty slabs go back to the system. */
#include "autoconf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/slab.h"

#define OBJ	536		/* about a struct conn */

/* Is the page holding p still mapped? (mincore fails with ENOMEM if not) */
static bool
mapped(const void *p)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec;
	void *start = (void *)((uintptr_t)p & ~(uintptr_t)(page - 1));

	return mincore(start, (size_t)page, &vec) == 0 || errno != ENOMEM;
}

static void
test_objects_distinct_aligned(void **state)
{
	struct slab_cache sc;
	char **objs;
	uint32_t n;

	(void)state;
	slab_init(&sc, OBJ);
	assert_int_equal(sc.obj_size % 16, 0);
	assert_true(sc.obj_size >= OBJ);
	n = sc.per_slab * 3 + 7;
	objs = calloc(n, sizeof(*objs));
	assert_non_null(objs);
	for (uint32_t i = 0; i < n; i++) {
		objs[i] = slab_alloc(&sc);
		assert_non_null(objs[i]);
		assert_int_equal((uintptr_t)objs[i] % 16, 0);
		memset(objs[i], (int)(i & 0xff), OBJ);	/* all of it is ours */
	}
	assert_int_equal(sc.nslabs, 4);
	for (uint32_t i = 0; i < n; i++)
		for (size_t k = 0; k < OBJ; k += 67)
			assert_int_equal((unsigned char)objs[i][k], i & 0xff);
	for (uint32_t i = 0; i < n; i++)
		slab_free(&sc, objs[i]);
	assert_int_equal(sc.nslabs, 1);		/* the spare */
	slab_clear(&sc);
	assert_int_equal(sc.nslabs, 0);
	free(objs);
}

/* A slab filled then emptied is unmapped, but one is kept spare. */
static void
test_empty_slabs_unmapped(void **state)
{
	struct slab_cache sc;
	void **objs;
	uint32_t n;

	(void)state;
	slab_init(&sc, OBJ);
	n = sc.per_slab * 3;
	objs = calloc(n, sizeof(*objs));
	assert_non_null(objs);
	for (uint32_t i = 0; i < n; i++)
		objs[i] = slab_alloc(&sc);
	assert_int_equal(sc.nslabs, 3);
	/* Free slab 0 whole: it becomes the spare, still mapped. */
	for (uint32_t i = 0; i < sc.per_slab; i++)
		slab_free(&sc, objs[i]);
	assert_int_equal(sc.nslabs, 3);
	assert_true(mapped(objs[0]));
	/* Free slab 2 but one object: nothing goes yet. */
	for (uint32_t i = 2 * sc.per_slab + 1; i < n; i++)
		slab_free(&sc, objs[i]);
	assert_int_equal(sc.nslabs, 3);
	/* Its last object: a spare exists, so slab 2 is unmapped. */
	slab_free(&sc, objs[2 * sc.per_slab]);
	assert_int_equal(sc.nslabs, 2);
	assert_false(mapped(objs[2 * sc.per_slab]));
	assert_true(mapped(objs[0]));
	for (uint32_t i = sc.per_slab; i < 2 * sc.per_slab; i++)
		slab_free(&sc, objs[i]);
	assert_int_equal(sc.nslabs, 1);
	slab_clear(&sc);
	assert_false(mapped(objs[0]));
	free(objs);
}

/* Freed objects are reused before a slab is touched further or mapped. */
static void
test_reuse_before_growth(void **state)
{
	struct slab_cache sc;
	void *a, *b, *c;

	(void)state;
	slab_init(&sc, OBJ);
	a = slab_alloc(&sc);
	b = slab_alloc(&sc);
	slab_free(&sc, a);
	c = slab_alloc(&sc);
	assert_ptr_equal(c, a);
	assert_int_equal(sc.nslabs, 1);
	slab_free(&sc, b);
	slab_free(&sc, c);
	/* An emptied only slab stays as the spare and serves the next one. */
	assert_int_equal(sc.nslabs, 1);
	a = slab_alloc(&sc);
	assert_int_equal(sc.nslabs, 1);
	slab_free(&sc, a);
	slab_clear(&sc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_objects_distinct_aligned),
		cmocka_unit_test(test_empty_slabs_unmapped),
		cmocka_unit_test(test_reuse_before_growth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
