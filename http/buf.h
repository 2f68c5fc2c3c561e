/* A fixed-capacity byte buffer: the unit of backpressure between sockets. */
#ifndef WEIR_BUF_H
#define WEIR_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Bytes live in data[start, end). Readers take from start, writers append at
 * end; the capacity never grows, so a full buffer is what stops the reading
 * side (the high-water mark is the capacity itself).
 */
struct buf {
	char *data;
	size_t start;
	size_t end;
	size_t cap;
};

static inline size_t
buf_len(const struct buf *b)
{
	return b->end - b->start;
}

static inline char *
buf_head(const struct buf *b)
{
	return b->data + b->start;
}

/* Room left after compacting, i.e. how much more the buffer can ever take now. */
static inline size_t
buf_room(const struct buf *b)
{
	return b->cap - buf_len(b);
}

static inline void
buf_reset(struct buf *b)
{
	b->start = b->end = 0;
}

static inline void
buf_consume(struct buf *b, size_t n)
{
	b->start += n;
	if (b->start == b->end)
		b->start = b->end = 0;
}

/* Move the live bytes to the front so the tail has all the room. */
static inline void
buf_compact(struct buf *b)
{
	if (b->start == 0)
		return;
	memmove(b->data, b->data + b->start, b->end - b->start);
	b->end -= b->start;
	b->start = 0;
}

/* Tail space, compacting first when the tail alone is too short for want. */
static inline size_t
buf_tail(struct buf *b, size_t want)
{
	if (b->cap - b->end < want)
		buf_compact(b);
	return b->cap - b->end;
}

static inline void
buf_append(struct buf *b, const void *p, size_t n)
{
	memcpy(b->data + b->end, p, n);
	b->end += n;
}

#endif
