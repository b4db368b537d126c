/* mx.h - a domain's MX set and where this node stands in it (see mx.c) */
#ifndef MH_MX_H
#define MH_MX_H

#include <stddef.h>

#define MX_HOSTS_MAX	16		/* exchanges kept from one MX set */
#define MX_NAME_MAX	255
#define MX_TEXT_MAX	(MX_HOSTS_MAX * (MX_NAME_MAX + 8) + 1)

struct mx_host {
	unsigned pref;
	char	name[MX_NAME_MAX + 1];	/* lowercase, no trailing dot */
};

struct mx_set {
	size_t	count;			/* 0: the domain has no MX records */
	struct mx_host hosts[MX_HOSTS_MAX];	/* sorted by preference, then name */
};

/* where this node stands; see mx_status() */
enum mx_status {
	MX_STATUS_NONE,			/* no MX records (or DNS failed): process as configured */
	MX_STATUS_PRIMARY,		/* this node is (one of) the most preferred */
	MX_STATUS_SECONDARY		/* a more preferred MX than this node exists */
};

/* mx_set_add - add one exchange (name canonicalised); -1 when full or the name is bad */
int	mx_set_add(struct mx_set *, unsigned pref, const char *name, size_t len);
/* mx_set_format - "10 mx1.example.com,20 mx2.example.com"; "" for no MX */
char   *mx_set_format(const struct mx_set *, char *buf, size_t len);
/* mx_set_parse - the inverse of mx_set_format; -1 on malformed text */
int	mx_set_parse(const char *text, struct mx_set *);
/*
 * mx_status - this node's standing: PRIMARY when one of `names` has the
 * lowest preference (ties count as primary); SECONDARY when some other
 * host is more preferred, including when none of `names` is listed at all
 * (every listed MX is then more preferred than we are); NONE for an
 * empty set. *ours gets the matching node name, or "" if none.
 */
enum mx_status mx_status(const struct mx_set *, char *const *names, size_t nnames, const char **ours);
/* mx_best_other - the most preferred exchange that is not one of names, or NULL */
const struct mx_host *mx_best_other(const struct mx_set *, char *const *names, size_t nnames);
const char *mx_status_name(enum mx_status);

#endif
