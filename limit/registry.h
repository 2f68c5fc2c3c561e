/*
 * The master's rate limit tables across reloads: a limit that keeps its
 * name, table_size and key keeps its table (and so its keys' state).
 */
#ifndef WEIR_LIMIT_REGISTRY_H
#define WEIR_LIMIT_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct limit_table_sh;
struct limit_reg_entry;

struct limit_registry {
	struct limit_reg_entry *head;
};

/*
 * One table per limit of cfg, in cfg->limits order, each referenced once
 * more: the table of a limit of the same name, table_size and key that an
 * earlier generation still holds, else a new one. NULL with err set on
 * failure (nothing is held then).
 */
struct limit_table_sh **limit_registry_acquire(struct limit_registry *r,
    const struct config *cfg, char *err, size_t errlen);
/* Drop the references acquire took (tabs may be NULL); frees the array. */
void limit_registry_release(struct limit_registry *r,
    struct limit_table_sh **tabs, size_t n);

#endif
