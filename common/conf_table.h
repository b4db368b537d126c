/* conf_table.h - the settings table shared by conf.c and conf_dump.c (internal) */
#ifndef MH_CONF_TABLE_H
#define MH_CONF_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

enum conf_type {
	CONF_STRING,			/* string, max = length bound */
	CONF_UINT,			/* unsigned in [min, max] */
	CONF_SIZE,			/* uint64_t bytes in [min, max] */
	CONF_DURATION,			/* uint64_t ms in [min, max] */
	CONF_SCORE,			/* double, -1000..1000 */
	CONF_ENUM,			/* unsigned index into choices */
	CONF_ENDPOINT,			/* struct endpoint; min 1 = must not be empty */
	CONF_STRLIST,			/* struct conf_list */
	CONF_DNSLIST,			/* struct hostport[], count at count_offset */
	CONF_HOSTPORTLIST,		/* struct hostport[], count at count_offset; port = default */
};

struct conf_entry {
	const char *name;		/* as in the file, dotted */
	enum conf_type type;
	const char *defval;		/* default, as text */
	uint64_t min;			/* see enum conf_type */
	uint64_t max;
	size_t	offset;			/* into struct conf */
	size_t	count_offset;		/* lists of struct hostport */
	const char *const *choices;	/* enum: names in enum order, NULL-terminated */
	unsigned port;			/* hostport list: default port */
	int	(*check) (const char *, char *, size_t);	/* string, list entry */
};

extern const struct conf_entry conf_table[];	/* every setting, grouped by dotted prefix */
extern const size_t conf_table_count;

/* conf_field - a setting's storage in a struct conf */
static inline void *
conf_field(struct conf *conf, size_t offset)
{
	return (char *) conf + offset;
}

#endif
