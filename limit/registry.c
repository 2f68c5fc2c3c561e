/*
 * Owns the master's list of rate limit tables: which table each limit of
 * each live generation uses, and when a table is no longer named by any
 * generation, so its mapping can go.
 *
 * Identity is the limit's name, table_size and key: a reload that keeps
 * them hands the new workers the very mapping the old ones used, so no
 * key's state is lost; a renamed limit, another size or another key gets
 * a fresh table (old keys would mean nothing under another key). Only the
 * master runs this, from its event loop, before forking the workers that
 * get the tables; workers keep their inherited mapping whatever the
 * master later unmaps.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "limit/registry.h"
#include "limit/table.h"

struct limit_reg_entry {
	struct limit_reg_entry *next;
	char *name;
	uint32_t table_size;
	int key;			/* enum config_limit_key */
	char *key_header;		/* CONFIG_LIMIT_HEADER */
	struct limit_table_sh *t;
	uint32_t refs;			/* generations naming it */
};

/* Is e the table of lm (name, table_size and key)? */
static bool
limit_registry_same(const struct limit_reg_entry *e,
    const struct limit_conf *lm)
{
	return strcmp(e->name, lm->name) == 0 &&
	    e->table_size == lm->table_size && e->key == lm->key &&
	    (lm->key != CONFIG_LIMIT_HEADER ||
	    strcasecmp(e->key_header, lm->key_header) == 0);
}

static void
limit_registry_entry_free(struct limit_reg_entry *e)
{
	limit_table_free(e->t);
	free(e->name);
	free(e->key_header);
	free(e);
}

/* The entry for lm, found or made; NULL when out of memory. */
static struct limit_reg_entry *
limit_registry_get(struct limit_registry *r, const struct limit_conf *lm)
{
	struct limit_reg_entry *e;

	for (e = r->head; e != NULL; e = e->next)
		if (limit_registry_same(e, lm))
			return e;
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->name = strdup(lm->name)) == NULL ||
	    (lm->key_header != NULL &&
	    (e->key_header = strdup(lm->key_header)) == NULL) ||
	    (e->t = limit_table_new(lm->table_size)) == NULL) {
		if (e != NULL)
			limit_registry_entry_free(e);
		return NULL;
	}
	e->table_size = lm->table_size;
	e->key = lm->key;
	e->next = r->head;
	r->head = e;
	return e;
}

struct limit_table_sh **
limit_registry_acquire(struct limit_registry *r, const struct config *cfg,
    char *err, size_t errlen)
{
	struct limit_table_sh **tabs = calloc(cfg->nlimits + 1, sizeof(*tabs));
	struct limit_reg_entry *e;
	size_t i;

	if (tabs == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < cfg->nlimits; i++) {
		if ((e = limit_registry_get(r, &cfg->limits[i])) == NULL) {
			snprintf(err, errlen, "%s:%d: limit '%s': cannot map "
			    "a table of %u keys", cfg->path,
			    cfg->limits[i].line, cfg->limits[i].name,
			    cfg->limits[i].table_size);
			limit_registry_release(r, tabs, i);
			return NULL;
		}
		e->refs++;
		tabs[i] = e->t;
	}
	return tabs;
}

void
limit_registry_release(struct limit_registry *r,
    struct limit_table_sh **tabs, size_t n)
{
	struct limit_reg_entry **pp, *e;

	for (size_t i = 0; tabs != NULL && i < n; i++) {
		for (pp = &r->head; (e = *pp) != NULL; pp = &e->next) {
			if (e->t != tabs[i])
				continue;
			if (--e->refs == 0) {
				*pp = e->next;
				limit_registry_entry_free(e);
			}
			break;
		}
	}
	free(tabs);
}
