/*
 * Under AddressSanitizer, memory a pool holds for reuse is poisoned, so a
 * use after it went back to the pool is reported as a use after free
 * would be. Without ASan these cost nothing.
 */
#ifndef WEIR_POISON_H
#define WEIR_POISON_H

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)	((void)(p), (void)(n))
#define UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#endif
