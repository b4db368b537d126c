/*
 * mx.c - a domain's MX set and where this node stands in it.
 *
 * mhpolicyd asks DNS for a recipient domain's MX records and caches the
 * set in Redis as text (mx_set_format), shared by every node; each node
 * then works out its own standing with mx_status() against its own
 * node.hostnames, since nodes differ in name but not in what DNS says.
 *
 * Host names compare case-insensitively without a trailing dot. At most
 * MX_HOSTS_MAX exchanges are kept (the most preferred ones).
 *
 * Public functions: mx_set_add, mx_set_format, mx_set_parse, mx_status,
 * mx_best_other, mx_status_name. Pure code: no I/O, no logging.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "mx.h"

#define MX_PREF_MAX	65535		/* MX preference is 16 bits */

/* mx_host_cmp - by preference, then name */
static int
mx_host_cmp(const struct mx_host *a, const struct mx_host *b)
{
	if (a->pref != b->pref)
		return a->pref < b->pref ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* mx_set_add - insert in order; when full, keep the most preferred */
int
mx_set_add(struct mx_set *set, unsigned pref, const char *name, size_t len)
{
	struct mx_host h;
	size_t	i;

	if (pref > MX_PREF_MAX)
		return -1;
	if (address_parse_hostname(name, len, h.name, sizeof(h.name), NULL, 0) < 0)
		return -1;
	h.pref = pref;
	for (i = 0; i < set->count; i++) {
		int	cmp = mx_host_cmp(&h, &set->hosts[i]);

		if (cmp == 0)
			return 0;		/* duplicate */
		if (cmp < 0)
			break;
	}
	if (set->count == MX_HOSTS_MAX) {
		if (i == MX_HOSTS_MAX)
			return 0;		/* less preferred than all we keep */
		set->count--;
	}
	memmove(&set->hosts[i + 1], &set->hosts[i], (set->count - i) * sizeof(h));
	set->hosts[i] = h;
	set->count++;
	return 0;
}

/* mx_set_format - the cache form */
char   *
mx_set_format(const struct mx_set *set, char *buf, size_t len)
{
	size_t	used = 0;

	if (len)
		buf[0] = 0;
	for (size_t i = 0; i < set->count; i++) {
		int	n = snprintf(buf + used, len - used, "%s%u %s", i ? "," : "",
				     set->hosts[i].pref, set->hosts[i].name);

		if (n < 0 || (size_t) n >= len - used)
			return NULL;
		used += (size_t) n;
	}
	return buf;
}

/* mx_set_parse - "PREF NAME[,PREF NAME...]" */
int
mx_set_parse(const char *text, struct mx_set *set)
{
	const char *p = text;

	set->count = 0;
	while (*p) {
		char   *end;
		unsigned long pref = strtoul(p, &end, 10);
		size_t	n;

		if (*p < '0' || *p > '9' || *end != ' ' || pref > MX_PREF_MAX)
			return -1;
		p = end + 1;
		n = strcspn(p, ",");
		if (mx_set_add(set, (unsigned) pref, p, n) < 0)
			return -1;
		p += n;
		if (*p == ',' && *++p == 0)
			return -1;
	}
	return 0;
}

/* mx_is_ours - whether an exchange is one of this node's names */
static const char *
mx_is_ours(const char *host, char *const *names, size_t nnames)
{
	for (size_t i = 0; i < nnames; i++) {
		size_t	n = strlen(names[i]);

		if (n && names[i][n - 1] == '.')
			n--;
		if (strlen(host) == n && strncasecmp(host, names[i], n) == 0)
			return names[i];
	}
	return NULL;
}

/* mx_status - this node's standing in the set */
enum mx_status
mx_status(const struct mx_set *set, char *const *names, size_t nnames, const char **ours)
{
	*ours = "";
	if (set->count == 0)
		return MX_STATUS_NONE;
	/* sorted: the first of ours decides */
	for (size_t i = 0; i < set->count; i++) {
		const char *mine = mx_is_ours(set->hosts[i].name, names, nnames);

		if (mine == NULL)
			continue;
		*ours = mine;
		return set->hosts[i].pref <= set->hosts[0].pref ? MX_STATUS_PRIMARY : MX_STATUS_SECONDARY;
	}
	return MX_STATUS_SECONDARY;
}

/* mx_best_other - where a backup MX forwards to */
const struct mx_host *
mx_best_other(const struct mx_set *set, char *const *names, size_t nnames)
{
	for (size_t i = 0; i < set->count; i++)
		if (mx_is_ours(set->hosts[i].name, names, nnames) == NULL)
			return &set->hosts[i];
	return NULL;
}

const char *
mx_status_name(enum mx_status s)
{
	static const char *const names[] = {"none", "primary", "secondary"};

	return names[s];
}
