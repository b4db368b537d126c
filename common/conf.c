/*
 * conf.c - read mhkit.conf (libconfig) into a struct conf.
 *
 * Every setting is declared once, in conf_table below: its name as written
 * in the file ("redis.sentinel.master": groups by the dotted name), its
 * type, its default as text, its range and where it lives in struct conf.
 * Defaults go through the same parsers as the file, so a default that
 * does not parse is our own bug (panic).  doc/mhkit.conf.md follows this
 * table; keep the two in step.
 *
 * Types: string (length bound, optional check), uint (integer in a
 * range), size (integer bytes, or a string "10M"), duration (string
 * "15m", or an integer meaning seconds), score (float or integer,
 * -1000..1000), enum (a string among choices), endpoint (a socket as in
 * main.cf), and lists of strings, DNS servers or host:port pairs, written
 * as a libconfig array or list of strings.  A libconfig integer may carry
 * the L suffix (52428800L).
 *
 * conf_load reads a file (NULL: conf_default_path(), where a missing file
 * means built-in defaults; an explicit missing file is an error).  An
 * empty file gives every default.  After loading, an empty node.hostnames
 * is filled with this host's name (gethostname()) when that is a valid
 * host name.  conf_defaults gives every default without touching the
 * host.  conf_dump (conf_dump.c) writes every setting back in mhkit.conf syntax;
 * passwords are written as they are.  conf_free releases it all.
 *
 * Failures: unknown settings and groups (anywhere), wrong types, bad or
 * out-of-range values, libconfig syntax errors and I/O errors make
 * conf_load return NULL with exactly one line in err, for the first
 * problem in file order:
 *	FILE:LINE: SETTING: what is wrong
 *	FILE:LINE: syntax error		(libconfig's own text)
 *	FILE: No such file or directory
 * Values with a syntax (numbers, host names, sockets) are quoted in the
 * message, printable and capped; free text (passwords, user, subject tag)
 * never is.  Callers exit with CONF_EXIT (78).
 *
 * libconfig's @include works; a relative include path is relative to the
 * current directory (libconfig 1.5 would prefix an include directory to
 * absolute paths too, so none is set): use absolute paths.
 *
 * libconfig 1.5 reads an integer without the L suffix through a 32-bit
 * int and silently wraps (4294967297 reads as 1); conf_int finds the
 * literal on its source line and uses its real value.
 *
 * Limits: CONF_FILE_MAX bytes of file, CONF_STR_MAX bytes of string,
 * CONF_LIST_MAX entries in a list.  Nothing is logged.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "conf.h"
#include "conf_table.h"
#include "endpoint.h"
#include "log.h"
#include "sbuf.h"
#include "units.h"

#ifndef SYSCONFDIR
#error "SYSCONFDIR must be defined by the build (-DSYSCONFDIR=...)"
#endif

#define CONF_FILE_MAX	(1024 * 1024)	/* bytes in the file */
#define CONF_NAME_MAX	128		/* bytes in a dotted setting name */
#define CONF_WHY_MAX	512		/* bytes in the "what is wrong" part */
#define CONF_LINE_MAX	4096		/* bytes of a source line read back */
#define CONF_SENTINEL_PORT 26379	/* redis.sentinel.servers default port */
#define CONF_REDIS_PORT	6379	/* redis.cluster.servers default port */
#define CONF_SCORE_MAX	1000.0		/* |score| */

#define SEC		1000ULL		/* durations are in milliseconds */
#define MIN		(60 * SEC)
#define DAY		(86400 * SEC)
#define KB		1024ULL

static int conf_check_host(const char *, char *, size_t);
static int conf_check_hostname(const char *, char *, size_t);
static int conf_check_helo(const char *, char *, size_t);
static int conf_check_path(const char *, char *, size_t);
static int conf_check_sender(const char *, char *, size_t);
static int conf_check_reply(const char *, char *, size_t);
static int conf_check_facility(const char *, char *, size_t);

static const char *const conf_on_error_names[] = {"accept", "tempfail", NULL};
static const char *const conf_backend_error_names[] = {"defer", "dunno", NULL};
static const char *const conf_discard_names[] = {"discard", "reject", NULL};

/* enums are stored through an unsigned lvalue */
static_assert(sizeof(enum conf_on_error) == sizeof(unsigned), "enum size");
static_assert(sizeof(enum conf_backend_error) == sizeof(unsigned), "enum size");
static_assert(sizeof(enum conf_discard_action) == sizeof(unsigned), "enum size");

/* the fields every entry has; the rest are named where used */
#define E(name_, type_, def_, min_, max_, field_) \
	.name = (name_), .type = (type_), .defval = (def_), .min = (min_), .max = (max_), \
	.offset = offsetof(struct conf, field_)
#define O(f)	offsetof(struct conf, f)

/*
 * Every setting, grouped by its dotted prefix (conf_dump relies on each
 * group's entries being together).
 */
const struct conf_entry conf_table[] = {
	/* E(name, type, default, min, max, field of struct conf) */
	{E("user", CONF_STRING, "", 0, CONF_STR_MAX, user)},
	{E("pidfile", CONF_STRING, "", 0, CONF_STR_MAX, pidfile), .check = conf_check_path},
	{E("syslog_facility", CONF_STRING, "mail", 0, CONF_STR_MAX, syslog_facility),
	.check = conf_check_facility},

	{E("redis.host", CONF_STRING, "127.0.0.1", 1, ENDPOINT_HOST_MAX, redis_host),
	.check = conf_check_host},
	{E("redis.port", CONF_UINT, "6379", 1, 65535, redis_port)},
	{E("redis.unix", CONF_STRING, "", 0, ENDPOINT_PATH_MAX, redis_unix),
	.check = conf_check_path},
	{E("redis.db", CONF_UINT, "0", 0, INT_MAX, redis_db)},
	{E("redis.user", CONF_STRING, "", 0, CONF_STR_MAX, redis_user)},
	{E("redis.password", CONF_STRING, "", 0, CONF_STR_MAX, redis_password)},
	{E("redis.timeout", CONF_DURATION, "2s", 10, 10 * MIN, redis_timeout_ms)},
	{E("redis.wait_replicas", CONF_UINT, "0", 0, 16, redis_wait_replicas)},
	{E("redis.sentinel.master", CONF_STRING, "", 0, CONF_STR_MAX, redis_sentinel_master)},
	{E("redis.sentinel.servers", CONF_HOSTPORTLIST, "", 0, 0, redis_sentinels),
	.count_offset = O(redis_sentinel_count), .port = CONF_SENTINEL_PORT},
	{E("redis.sentinel.password", CONF_STRING, "", 0, CONF_STR_MAX, redis_sentinel_password)},
	{E("redis.cluster.servers", CONF_HOSTPORTLIST, "", 0, 0, redis_cluster),
	.count_offset = O(redis_cluster_count), .port = CONF_REDIS_PORT},

	{E("node.hostnames", CONF_STRLIST, "", 0, 0, node_hostnames),
	.check = conf_check_hostname},

	{E("dns.servers", CONF_DNSLIST, "", 0, 0, dns_servers),
	.count_offset = O(dns_server_count)},
	{E("dns.timeout", CONF_DURATION, "5s", 10, 10 * MIN, dns_timeout_ms)},

	{E("milter.listen", CONF_ENDPOINT, "inet:127.0.0.1:10028", 1, 0, milter_listen)},
	{E("milter.spamd", CONF_ENDPOINT, "inet:127.0.0.1:783", 1, 0, milter_spamd)},
	{E("milter.clamd", CONF_ENDPOINT, "unix:/run/clamav/clamd.ctl", 1, 0, milter_clamd)},
	{E("milter.on_scanner_error", CONF_ENUM, "accept", 0, 0, milter_on_scanner_error),
	.choices = conf_on_error_names},
	{E("milter.spam_max_size", CONF_SIZE, "512K", 1 * KB, 64 * KB * KB, milter_spam_max_size)},
	{E("milter.metrics", CONF_ENDPOINT, "", 0, 0, milter_metrics)},
	{E("milter.authserv_id", CONF_STRING, "", 0, ENDPOINT_HOST_MAX, milter_authserv_id),
	.check = conf_check_helo},
	{E("milter.cache_size", CONF_SIZE, "16M", 0, 4 * KB * KB * KB, milter_cache_size)},

	{E("policyd.listen", CONF_ENDPOINT, "inet:127.0.0.1:10027", 1, 0, policyd_listen)},
	{E("policyd.socketmap", CONF_ENDPOINT, "inet:127.0.0.1:10029", 1, 0, policyd_socketmap)},
	{E("policyd.on_backend_error", CONF_ENUM, "defer", 0, 0, policyd_on_backend_error),
	.choices = conf_backend_error_names},
	{E("policyd.metrics", CONF_ENDPOINT, "", 0, 0, policyd_metrics)},
	{E("policyd.max_connections", CONF_UINT, "10000", 1, 1000000, policyd_max_connections)},
	{E("policyd.idle_timeout", CONF_DURATION, "10m", SEC, 24 * 60 * MIN, policyd_idle_timeout_ms)},
	{E("policyd.cache_size", CONF_SIZE, "16M", 0, 4 * KB * KB * KB, policyd_cache_size)},

	{E("callahead.helo", CONF_STRING, "", 0, ENDPOINT_HOST_MAX, callahead_helo),
	.check = conf_check_helo},
	{E("callahead.probe_sender", CONF_STRING, "", 0, CONF_STR_MAX, callahead_probe_sender),
	.check = conf_check_sender},
	{E("callahead.connect_timeout", CONF_DURATION, "10s", 10, 10 * MIN,
	callahead_connect_timeout_ms)},
	{E("callahead.reply_timeout", CONF_DURATION, "30s", 10, 10 * MIN,
	callahead_reply_timeout_ms)},
	{E("callahead.positive_ttl", CONF_DURATION, "7d", SEC, 365 * DAY, callahead_positive_ttl_ms)},
	{E("callahead.negative_ttl", CONF_DURATION, "1h", SEC, 365 * DAY, callahead_negative_ttl_ms)},
	{E("callahead.tempfail_ttl", CONF_DURATION, "5m", SEC, 365 * DAY, callahead_tempfail_ttl_ms)},
	{E("callahead.max_per_destination", CONF_UINT, "4", 1, 1000,
	callahead_max_per_destination)},

	{E("outbound.relays_per_block", CONF_UINT, "150", 1, 1000000, outbound_relays_per_block)},
	{E("outbound.max_recipients", CONF_UINT, "100", 1, 100000, outbound_max_recipients)},
	{E("outbound.max_size", CONF_SIZE, "50M", KB, 4 * KB * KB * KB, outbound_max_size)},
	{E("outbound.quota_reply", CONF_STRING, "452 4.7.1", 0, CONF_STR_MAX, outbound_quota_reply),
	.check = conf_check_reply},

	{E("defaults.max_size", CONF_SIZE, "10M", KB, 4 * KB * KB * KB, defaults_max_size)},
	{E("defaults.tag_limit", CONF_SCORE, "5.0", 0, 0, defaults_tag_limit)},
	{E("defaults.discard_limit", CONF_SCORE, "10.0", 0, 0, defaults_discard_limit)},
	{E("defaults.discard_action", CONF_ENUM, "discard", 0, 0, defaults_discard_action),
	.choices = conf_discard_names},
	{E("defaults.subject_tag", CONF_STRING, "[SPAM]", 0, CONF_STR_MAX, defaults_subject_tag)},
};

const size_t conf_table_count = sizeof(conf_table) / sizeof(conf_table[0]);

/* One conf_load call. */
struct conf_ctx {
	config_t cf;
	const char *path;		/* the file named by the caller */
	struct conf *conf;
	char   *err;
	size_t	errlen;
};

/* conf_strdup - copy, or panic: out of memory is not a config error */
static char *
conf_strdup(const char *s)
{
	char   *p = strdup(s);

	if (p == NULL)
		msg_panic("conf: out of memory");
	return p;
}

/* conf_find - table entry by dotted name, NULL when unknown */
static const struct conf_entry *
conf_find(const char *name)
{
	for (size_t i = 0; i < conf_table_count; i++)
		if (strcmp(conf_table[i].name, name) == 0)
			return conf_table + i;
	return NULL;
}

/* conf_is_group - 1 when some setting's name starts with "prefix." */
static int
conf_is_group(const char *prefix)
{
	size_t	len = strlen(prefix);

	for (size_t i = 0; i < conf_table_count; i++)
		if (strncmp(conf_table[i].name, prefix, len) == 0 && conf_table[i].name[len] == '.')
			return 1;
	return 0;
}

/* conf_quote - untrusted text, printable and capped, for an error message */
static const char *
conf_quote(char *buf, size_t buflen, const char *text)
{
	return log_printable(buf, buflen, text, strlen(text));
}

/*
 * Checks on string values and list entries: 0, or -1 with the reason in
 * why.  Empty values reach them only where empty is allowed.
 */

/* conf_check_host - an IP address or a host name */
static int
conf_check_host(const char *value, char *why, size_t whylen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char	q[80];

	if (hostname_valid(value) || inet_pton(AF_INET, value, addr) == 1
	    || inet_pton(AF_INET6, value, addr) == 1)
		return 0;
	snprintf(why, whylen, "\"%s\" is not an IP address or host name",
		 conf_quote(q, sizeof(q), value));
	return -1;
}

/* conf_check_hostname - a host name, not an address */
static int
conf_check_hostname(const char *value, char *why, size_t whylen)
{
	char	q[80];

	if (hostname_valid(value))
		return 0;
	snprintf(why, whylen, "\"%s\" is not a valid host name",
		 conf_quote(q, sizeof(q), value));
	return -1;
}

/* conf_check_helo - empty (first of node.hostnames) or a host name */
static int
conf_check_helo(const char *value, char *why, size_t whylen)
{
	return *value ? conf_check_hostname(value, why, whylen) : 0;
}

/* conf_check_path - empty or an absolute path */
static int
conf_check_path(const char *value, char *why, size_t whylen)
{
	char	q[80];

	if (*value == 0 || *value == '/')
		return 0;
	snprintf(why, whylen, "\"%s\" is not an absolute path", conf_quote(q, sizeof(q), value));
	return -1;
}

/* conf_check_sender - empty (null sender) or local@domain, no brackets or spaces */
static int
conf_check_sender(const char *value, char *why, size_t whylen)
{
	char	q[80];
	const char *at = strrchr(value, '@');

	if (*value == 0)
		return 0;
	if (at != NULL && at != value && at[1] != 0 && strpbrk(value, "<> \t") == NULL)
		return 0;
	snprintf(why, whylen, "\"%s\" is not an address like user@example.com"
		 " (write it without <>; empty for the null sender)",
		 conf_quote(q, sizeof(q), value));
	return -1;
}

/* conf_check_reply - "4xx 4.x.x" or "5xx 5.x.x": SMTP code and RFC 3463 status */
static int
conf_check_reply(const char *value, char *why, size_t whylen)
{
	char	q[80];
	const char *p = value + 4;
	int	n;

	if (strlen(value) < 9 || (value[0] != '4' && value[0] != '5')
	    || value[1] < '0' || value[1] > '5' || !isdigit((unsigned char) value[2])
	    || value[3] != ' ' || p[0] != value[0] || p[1] != '.')
		goto fail;
	for (p += 2, n = 0; isdigit((unsigned char) *p); p++)
		n++;
	if (n < 1 || n > 3 || *p++ != '.')
		goto fail;
	for (n = 0; isdigit((unsigned char) *p); p++)
		n++;
	if (n < 1 || n > 3 || *p != 0)
		goto fail;
	return 0;

fail:
	snprintf(why, whylen, "\"%s\" is not \"4XX 4.X.X\" or \"5XX 5.X.X\" (e.g. \"452 4.7.1\")",
		 conf_quote(q, sizeof(q), value));
	return -1;
}

/* conf_check_facility - a syslog facility log.c knows */
static int
conf_check_facility(const char *value, char *why, size_t whylen)
{
	char	q[80];

	if (log_facility_parse(value) >= 0)
		return 0;
	snprintf(why, whylen, "unknown syslog facility \"%s\" (use mail, daemon, user"
		 " or local0..local7)", conf_quote(q, sizeof(q), value));
	return -1;
}

/* conf_choices - "a, b or c" from an enum's choices */
static const char *
conf_choices(const struct conf_entry *e, char *buf, size_t buflen)
{
	size_t	used = 0;

	buf[0] = 0;
	for (size_t i = 0; e->choices[i] && used < buflen; i++) {
		int	n = snprintf(buf + used, buflen - used, "%s%s", i == 0 ? ""
				     : e->choices[i + 1] ? ", " : " or ", e->choices[i]);

		if (n < 0)
			break;
		used += (size_t) n;
	}
	return buf;
}

/* conf_range - check a size or duration against its entry's range */
static int
conf_range(const struct conf_entry *e, uint64_t v, const char *shown, char *why, size_t whylen)
{
	char	lo[UNITS_FORMAT_MAX];
	char	hi[UNITS_FORMAT_MAX];

	if (v >= e->min && v <= e->max)
		return 0;
	if (e->type == CONF_SIZE)
		snprintf(why, whylen, "%s is out of range %s..%s", shown,
			 units_format_size(e->min, lo, sizeof(lo)),
			 units_format_size(e->max, hi, sizeof(hi)));
	else
		snprintf(why, whylen, "%s is out of range %s..%s", shown,
			 units_format_duration(e->min, lo, sizeof(lo)),
			 units_format_duration(e->max, hi, sizeof(hi)));
	return -1;
}

/* conf_set_u64 - store a size or duration after its range check */
static int
conf_set_u64(struct conf *conf, const struct conf_entry *e, uint64_t v, const char *shown,
	     char *why, size_t whylen)
{
	if (conf_range(e, v, shown, why, whylen) < 0)
		return -1;
	*(uint64_t *) conf_field(conf, e->offset) = v;
	return 0;
}

/* conf_set_score - store a score after its range check */
static int
conf_set_score(struct conf *conf, const struct conf_entry *e, double v, char *why, size_t whylen)
{
	if (!isfinite(v) || v < -CONF_SCORE_MAX || v > CONF_SCORE_MAX) {
		snprintf(why, whylen, "%g is out of range -1000..1000", v);
		return -1;
	}
	*(double *) conf_field(conf, e->offset) = v;
	return 0;
}

/* conf_set_text - a scalar setting from text (the file's string, or the default) */
static int
conf_set_text(struct conf *conf, const struct conf_entry *e, const char *text,
	      char *why, size_t whylen)
{
	char	q[80];
	char	shown[84];
	char	choices[80];
	uint64_t u;
	double	d;
	struct endpoint ep;
	size_t	i;

	switch (e->type) {
	case CONF_STRING:
		if (strlen(text) > e->max) {
			snprintf(why, whylen, "longer than %" PRIu64 " bytes", e->max);
			return -1;
		}
		if (strlen(text) < e->min) {
			snprintf(why, whylen, "must not be empty");
			return -1;
		}
		for (i = 0; text[i]; i++)
			if (iscntrl((unsigned char) text[i])) {
				snprintf(why, whylen, "control characters are not allowed");
				return -1;
			}
		if (e->check && e->check(text, why, whylen) < 0)
			return -1;
		free(*(char **) conf_field(conf, e->offset));
		*(char **) conf_field(conf, e->offset) = conf_strdup(text);
		return 0;
	case CONF_UINT:
		if (units_parse_uint(text, e->min, e->max, &u, why, whylen) < 0)
			return -1;
		*(unsigned *) conf_field(conf, e->offset) = (unsigned) u;
		return 0;
	case CONF_SIZE:
		if (units_parse_size(text, &u, why, whylen) < 0)
			return -1;
		snprintf(shown, sizeof(shown), "\"%s\"", conf_quote(q, sizeof(q), text));
		return conf_set_u64(conf, e, u, shown, why, whylen);
	case CONF_DURATION:
		if (units_parse_duration(text, &u, why, whylen) < 0)
			return -1;
		snprintf(shown, sizeof(shown), "\"%s\"", conf_quote(q, sizeof(q), text));
		return conf_set_u64(conf, e, u, shown, why, whylen);
	case CONF_SCORE:
		if (units_parse_score(text, &d, why, whylen) < 0)
			return -1;
		return conf_set_score(conf, e, d, why, whylen);
	case CONF_ENUM:
		for (i = 0; e->choices[i]; i++)
			if (strcmp(e->choices[i], text) == 0) {
				*(unsigned *) conf_field(conf, e->offset) = (unsigned) i;
				return 0;
			}
		snprintf(why, whylen, "bad value \"%s\" (use %s)",
			 conf_quote(q, sizeof(q), text), conf_choices(e, choices, sizeof(choices)));
		return -1;
	case CONF_ENDPOINT:
		if (endpoint_parse(text, &ep, why, whylen) < 0)
			return -1;
		if (ep.kind == ENDPOINT_NONE && e->min) {
			snprintf(why, whylen, "must not be empty (use inet:HOST:PORT or unix:/PATH)");
			return -1;
		}
		*(struct endpoint *) conf_field(conf, e->offset) = ep;
		return 0;
	default:
		msg_panic("conf_set_text: %s is not a scalar", e->name);
	}
}

/* conf_list_clear - empty a list setting */
static void
conf_list_clear(struct conf *conf, const struct conf_entry *e)
{
	if (e->type == CONF_STRLIST) {
		struct conf_list *l = conf_field(conf, e->offset);

		for (size_t i = 0; i < l->count; i++)
			free(l->items[i]);
		l->count = 0;
	} else {
		*(size_t *) conf_field(conf, e->count_offset) = 0;
	}
}

/* conf_list_add - one entry of a list setting from text */
static int
conf_list_add(struct conf *conf, const struct conf_entry *e, const char *text,
	      char *why, size_t whylen)
{
	struct conf_list *l = conf_field(conf, e->offset);
	struct hostport *hp = conf_field(conf, e->offset);
	size_t *count = e->type == CONF_STRLIST ? &l->count
	: (size_t *) conf_field(conf, e->count_offset);

	if (*count >= CONF_LIST_MAX) {
		snprintf(why, whylen, "more than %d entries", CONF_LIST_MAX);
		return -1;
	}
	switch (e->type) {
	case CONF_STRLIST:
		if (strlen(text) > CONF_STR_MAX) {
			snprintf(why, whylen, "an entry is longer than %d bytes", CONF_STR_MAX);
			return -1;
		}
		if (e->check && e->check(text, why, whylen) < 0)
			return -1;
		l->items[*count] = conf_strdup(text);
		break;
	case CONF_DNSLIST:
		if (dnsserver_parse(text, hp + *count, why, whylen) < 0)
			return -1;
		break;
	case CONF_HOSTPORTLIST:
		if (hostport_parse(text, e->port, hp + *count, why, whylen) < 0)
			return -1;
		break;
	default:
		msg_panic("conf_list_add: %s is not a list", e->name);
	}
	*count += 1;
	return 0;
}

/* conf_default - set one entry to its default; a bad default is our bug */
static void
conf_default(struct conf *conf, const struct conf_entry *e)
{
	char	why[CONF_WHY_MAX];
	char	item[CONF_STR_MAX + 1];
	const char *p;
	size_t	n;

	switch (e->type) {
	case CONF_STRLIST:
	case CONF_DNSLIST:
	case CONF_HOSTPORTLIST:
		conf_list_clear(conf, e);
		for (p = e->defval; *p; p += n + (p[n] == ',')) {
			n = strcspn(p, ",");
			if (n > CONF_STR_MAX)
				msg_panic("conf: default of %s: entry too long", e->name);
			memcpy(item, p, n);
			item[n] = 0;
			if (conf_list_add(conf, e, item, why, sizeof(why)) < 0)
				msg_panic("conf: default of %s: %s", e->name, why);
		}
		break;
	default:
		if (conf_set_text(conf, e, e->defval, why, sizeof(why)) < 0)
			msg_panic("conf: default of %s: %s", e->name, why);
		break;
	}
}

/* conf_defaults - every setting at its default */
struct conf *
conf_defaults(void)
{
	struct conf *conf = calloc(1, sizeof(*conf));

	if (conf == NULL)
		msg_panic("conf: out of memory");
	conf->path = conf_strdup("");
	for (size_t i = 0; i < conf_table_count; i++)
		conf_default(conf, conf_table + i);
	return conf;
}

/* conf_same_hostports - the same n hosts and ports, in the same order */
static int
conf_same_hostports(const struct hostport *a, size_t na, const struct hostport *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!hostport_same(&a[i], &b[i]))
			return 0;
	return 1;
}

/* conf_same_redis - whether redis.* are the same in both */
int
conf_same_redis(const struct conf *a, const struct conf *b)
{
	return !strcmp(a->redis_host, b->redis_host) && a->redis_port == b->redis_port
	    && !strcmp(a->redis_unix, b->redis_unix) && a->redis_db == b->redis_db
	    && !strcmp(a->redis_user, b->redis_user) && !strcmp(a->redis_password, b->redis_password)
	    && a->redis_timeout_ms == b->redis_timeout_ms
	    && !strcmp(a->redis_sentinel_master, b->redis_sentinel_master)
	    && !strcmp(a->redis_sentinel_password, b->redis_sentinel_password)
	    && conf_same_hostports(a->redis_sentinels, a->redis_sentinel_count,
				   b->redis_sentinels, b->redis_sentinel_count)
	    && conf_same_hostports(a->redis_cluster, a->redis_cluster_count,
				   b->redis_cluster, b->redis_cluster_count);
}

/* conf_same_dns - whether dns.* are the same in both */
int
conf_same_dns(const struct conf *a, const struct conf *b)
{
	return a->dns_timeout_ms == b->dns_timeout_ms
	    && conf_same_hostports(a->dns_servers, a->dns_server_count, b->dns_servers, b->dns_server_count);
}

/* conf_free - release a conf and everything it holds */
void
conf_free(struct conf *conf)
{
	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf_table_count; i++) {
		const struct conf_entry *e = conf_table + i;

		if (e->type == CONF_STRING)
			free(*(char **) conf_field(conf, e->offset));
		else if (e->type == CONF_STRLIST)
			conf_list_clear(conf, e);
	}
	free(conf->path);
	free(conf);
}

/* conf_default_path - $(sysconfdir)/mhkit/mhkit.conf */
const char *
conf_default_path(void)
{
	return SYSCONFDIR "/mhkit/mhkit.conf";
}

/* conf_source - the file a setting came from: ours, or one it @includes */
static const char *
conf_source(const struct conf_ctx *ctx, const char *file)
{
	return file ? file : ctx->path;
}

/* conf_fail - the one error line: FILE:LINE: NAME: what is wrong */
static int
conf_fail(struct conf_ctx *ctx, const config_setting_t *s, const char *name, const char *why)
{
	snprintf(ctx->err, ctx->errlen, "%s:%u: %s: %s",
		 conf_source(ctx, config_setting_source_file(s)),
		 config_setting_source_line(s), name, why);
	return -1;
}

/* conf_type_name - a libconfig value type, for "expected X, not Y" */
static const char *
conf_type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a floating point number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	case CONFIG_TYPE_GROUP:
		return "a group";
	default:
		return "nothing";
	}
}

/* conf_expected - what an entry takes, for "expected X, not Y" */
static const char *
conf_expected(const struct conf_entry *e)
{
	static const char *const names[] = {
		[CONF_STRING] = "a string",
		[CONF_UINT] = "an integer",
		[CONF_SIZE] = "a size (an integer of bytes or a string like \"10M\")",
		[CONF_DURATION] = "a duration (a string like \"15m\" or an integer of seconds)",
		[CONF_SCORE] = "a number",
		[CONF_ENUM] = "a string",
		[CONF_ENDPOINT] = "a socket string (\"inet:HOST:PORT\" or \"unix:/PATH\")",
		[CONF_STRLIST] = "a list of strings ([\"a\", \"b\"])",
		[CONF_DNSLIST] = "a list of strings ([\"a\", \"b\"])",
		[CONF_HOSTPORTLIST] = "a list of strings ([\"a\", \"b\"])",
	};

	return names[e->type];
}

/* conf_read_line - line number lineno of file into buf; -1 when unavailable */
static int
conf_read_line(const char *file, unsigned lineno, char *buf, size_t buflen)
{
	FILE   *fp = fopen(file, "r");
	unsigned n = 1;
	int	ch;
	int	ret = -1;

	if (fp == NULL)
		return -1;
	while (n < lineno && (ch = getc(fp)) != EOF)
		if (ch == '\n')
			n++;
	if (n == lineno && fgets(buf, (int) buflen, fp) != NULL)
		ret = 0;
	fclose(fp);
	return ret;
}

/* conf_literal - the integer literal after "name =" or "name:" on a line, or NULL */
static const char *
conf_literal(const char *line, const char *name)
{
	size_t	len = strlen(name);

	for (const char *p = strstr(line, name); p; p = strstr(p + 1, name)) {
		const char *v = p + len;

		if (p > line && (isalnum((unsigned char) p[-1]) || strchr("_-*", p[-1])))
			continue;
		v += strspn(v, " \t");
		if (*v != '=' && *v != ':')
			continue;
		v += 1 + strspn(v + 1, " \t");
		if (isdigit((unsigned char) v[*v == '-' || *v == '+']))
			return v;
	}
	return NULL;
}

/*
 * conf_int - an integer setting's value.  libconfig 1.5 wraps integers
 * without L to 32 bits; a literal that does not fit is read again here.
 */
static int
conf_int(struct conf_ctx *ctx, const config_setting_t *s, const char *name, long long *out)
{
	char	line[CONF_LINE_MAX];
	char	why[CONF_WHY_MAX];
	char	q[80];
	const char *lit;
	const char *digits;
	char   *end;
	long long v;
	int	ival;

	if (config_setting_type(s) == CONFIG_TYPE_INT64) {
		*out = config_setting_get_int64(s);
		return 0;
	}
	ival = config_setting_get_int(s);
	*out = ival;
	if (config_setting_name(s) == NULL
	    || conf_read_line(conf_source(ctx, config_setting_source_file(s)),
			      config_setting_source_line(s), line, sizeof(line)) < 0
	    || (lit = conf_literal(line, config_setting_name(s))) == NULL)
		return 0;
	digits = lit + (*lit == '-' || *lit == '+');
	errno = 0;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		v = strtoll(lit, &end, 16);
	else
		v = strtoll(lit, &end, 10);
	if (errno == ERANGE) {
		size_t	len = strspn(lit, "+-0123456789abcdefABCDEFxX");

		snprintf(why, sizeof(why), "integer %.*s is too large",
			 (int) len, conf_quote(q, sizeof(q), lit));
		return conf_fail(ctx, s, name, why);
	}
	if ((v < INT_MIN || v > INT_MAX) && (int) (uint32_t) (unsigned long long) v == ival)
		*out = v;
	return 0;
}

/* conf_apply_list - a list setting from an array or list of strings */
static int
conf_apply_list(struct conf_ctx *ctx, const struct conf_entry *e, const config_setting_t *s)
{
	char	why[CONF_WHY_MAX];
	int	n = config_setting_length(s);

	conf_list_clear(ctx->conf, e);
	for (int i = 0; i < n; i++) {
		const config_setting_t *item = config_setting_get_elem(s, (unsigned) i);

		if (config_setting_type(item) != CONFIG_TYPE_STRING) {
			snprintf(why, sizeof(why), "list entries must be strings, not %s",
				 conf_type_name(item));
			return conf_fail(ctx, item, e->name, why);
		}
		if (conf_list_add(ctx->conf, e, config_setting_get_string(item), why, sizeof(why)) < 0)
			return conf_fail(ctx, item, e->name, why);
	}
	return 0;
}

/* conf_apply - one setting from the file */
static int
conf_apply(struct conf_ctx *ctx, const struct conf_entry *e, const config_setting_t *s)
{
	char	why[CONF_WHY_MAX];
	char	shown[80];
	int	type = config_setting_type(s);
	int	is_int = (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64);
	long long v;
	uint64_t u;
	uint64_t factor;

	switch (e->type) {
	case CONF_STRING:
	case CONF_ENUM:
	case CONF_ENDPOINT:
		if (type != CONFIG_TYPE_STRING)
			goto wrong_type;
		break;
	case CONF_UINT:
		if (!is_int)
			goto wrong_type;
		if (conf_int(ctx, s, e->name, &v) < 0)
			return -1;
		if (v < 0 || (unsigned long long) v < e->min || (unsigned long long) v > e->max) {
			snprintf(why, sizeof(why), "%lld is out of range %" PRIu64 "..%" PRIu64,
				 v, e->min, e->max);
			return conf_fail(ctx, s, e->name, why);
		}
		*(unsigned *) conf_field(ctx->conf, e->offset) = (unsigned) v;
		return 0;
	case CONF_SIZE:
	case CONF_DURATION:
		if (type == CONFIG_TYPE_STRING)
			break;
		if (!is_int)
			goto wrong_type;
		if (conf_int(ctx, s, e->name, &v) < 0)
			return -1;
		snprintf(shown, sizeof(shown), e->type == CONF_SIZE ? "%lld" : "%lld (seconds)", v);
		factor = e->type == CONF_SIZE ? 1 : SEC;
		/* negative or overflowing: UINT64_MAX is out of every range */
		u = v < 0 || (uint64_t) v > UINT64_MAX / factor ? UINT64_MAX : (uint64_t) v * factor;
		if (conf_set_u64(ctx->conf, e, u, shown, why, sizeof(why)) < 0)
			return conf_fail(ctx, s, e->name, why);
		return 0;
	case CONF_SCORE:
		if (type == CONFIG_TYPE_FLOAT) {
			if (conf_set_score(ctx->conf, e, config_setting_get_float(s), why, sizeof(why)) < 0)
				return conf_fail(ctx, s, e->name, why);
			return 0;
		}
		if (!is_int)
			goto wrong_type;
		if (conf_int(ctx, s, e->name, &v) < 0)
			return -1;
		if (conf_set_score(ctx->conf, e, (double) v, why, sizeof(why)) < 0)
			return conf_fail(ctx, s, e->name, why);
		return 0;
	case CONF_STRLIST:
	case CONF_DNSLIST:
	case CONF_HOSTPORTLIST:
		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			goto wrong_type;
		return conf_apply_list(ctx, e, s);
	}
	if (conf_set_text(ctx->conf, e, config_setting_get_string(s), why, sizeof(why)) < 0)
		return conf_fail(ctx, s, e->name, why);
	return 0;

wrong_type:
	if (e->type == CONF_ENUM)
		snprintf(why, sizeof(why), "expected a string (%s), not %s",
			 conf_choices(e, shown, sizeof(shown)), conf_type_name(s));
	else
		snprintf(why, sizeof(why), "expected %s, not %s", conf_expected(e), conf_type_name(s));
	return conf_fail(ctx, s, e->name, why);
}

/* conf_walk - apply every member of a group, in file order; unknown names are errors */
static int
conf_walk(struct conf_ctx *ctx, const config_setting_t *group, const char *prefix)
{
	char	name[CONF_NAME_MAX];
	char	why[CONF_WHY_MAX];
	int	n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned) i);
		const struct conf_entry *e;

		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "",
			 config_setting_name(s));
		if ((e = conf_find(name)) != NULL) {
			if (conf_apply(ctx, e, s) < 0)
				return -1;
		} else if (!conf_is_group(name)) {
			return conf_fail(ctx, s, name, config_setting_is_group(s)
					 ? "unknown group" : "unknown setting");
		} else if (!config_setting_is_group(s)) {
			snprintf(why, sizeof(why), "expected a group ({ ... }), not %s", conf_type_name(s));
			return conf_fail(ctx, s, name, why);
		} else if (conf_walk(ctx, s, name) < 0) {
			return -1;
		}
	}
	return 0;
}

/* conf_check_all - rules across settings */
static int
conf_check_all(struct conf_ctx *ctx)
{
	const struct conf *conf = ctx->conf;
	const config_setting_t *s;

	if (*conf->redis_sentinel_master && conf->redis_sentinel_count == 0
	    && (s = config_lookup(&ctx->cf, "redis.sentinel.master")) != NULL)
		return conf_fail(ctx, s, "redis.sentinel.master",
				 "set, but redis.sentinel.servers is empty");
	if (!*conf->redis_sentinel_master && conf->redis_sentinel_count > 0
	    && (s = config_lookup(&ctx->cf, "redis.sentinel.servers")) != NULL)
		return conf_fail(ctx, s, "redis.sentinel.servers",
				 "set, but redis.sentinel.master is empty");
	if (conf->redis_cluster_count > 0
	    && (s = config_lookup(&ctx->cf, "redis.cluster.servers")) != NULL) {
		if (*conf->redis_sentinel_master)
			return conf_fail(ctx, s, "redis.cluster.servers",
					 "a cluster has no Sentinel: set one of the two");
		if (*conf->redis_unix)
			return conf_fail(ctx, s, "redis.cluster.servers",
					 "a cluster is reached over TCP: redis.unix must be empty");
		if (conf->redis_db != 0)
			return conf_fail(ctx, s, "redis.cluster.servers",
					 "a cluster has database 0 only: redis.db must be 0");
	}
	return 0;
}

/* conf_fill_hostnames - an empty node.hostnames becomes this host's name */
static void
conf_fill_hostnames(struct conf *conf)
{
	char	host[ENDPOINT_HOST_MAX + 1];

	if (conf->node_hostnames.count > 0 || gethostname(host, sizeof(host)) < 0)
		return;
	host[sizeof(host) - 1] = 0;
	if (hostname_valid(host))
		conf->node_hostnames.items[conf->node_hostnames.count++] = conf_strdup(host);
}

/* conf_open - can the file be read: 0 yes, 1 missing default, -1 error in err */
static int
conf_open(struct conf_ctx *ctx, int is_default)
{
	struct stat st;
	FILE   *fp;
	int	ret = 0;

	if ((fp = fopen(ctx->path, "r")) == NULL) {
		if (is_default && errno == ENOENT)
			return 1;
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) < 0) {
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, strerror(errno));
		ret = -1;
	} else if (S_ISDIR(st.st_mode)) {
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, strerror(EISDIR));
		ret = -1;
	} else if (st.st_size > CONF_FILE_MAX) {
		snprintf(ctx->err, ctx->errlen, "%s: larger than %d bytes", ctx->path, CONF_FILE_MAX);
		ret = -1;
	}
	fclose(fp);
	return ret;
}

/* conf_load - read a file; NULL path = conf_default_path(), which may be missing */
struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf_ctx ctx;
	int	status;

	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path ? path : conf_default_path();
	ctx.err = err;
	ctx.errlen = errlen;
	config_init(&ctx.cf);
	if ((status = conf_open(&ctx, path == NULL)) < 0)
		goto fail;
	ctx.conf = conf_defaults();
	if (status == 1)
		goto done;
	free(ctx.conf->path);
	ctx.conf->path = conf_strdup(ctx.path);
	if (config_read_file(&ctx.cf, ctx.path) != CONFIG_TRUE) {
		if (config_error_type(&ctx.cf) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: %s", ctx.path, "cannot read the file");
		else
			snprintf(err, errlen, "%s:%d: %s",
				 conf_source(&ctx, config_error_file(&ctx.cf)),
				 config_error_line(&ctx.cf), config_error_text(&ctx.cf));
		goto fail;
	}
	if (conf_walk(&ctx, config_root_setting(&ctx.cf), "") < 0 || conf_check_all(&ctx) < 0)
		goto fail;

done:
	config_destroy(&ctx.cf);
	conf_fill_hostnames(ctx.conf);
	return ctx.conf;

fail:
	config_destroy(&ctx.cf);
	conf_free(ctx.conf);
	return NULL;
}

