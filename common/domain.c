/*
 * domain.c - a customer domain and its settings.
 *
 * The SPEC's domain table lives here once, as domain_settings[]: name,
 * how to parse a value, how to format it back, and where the default
 * comes from. Redis stores only the settings set on the domain (a HASH of
 * setting -> canonical text, see doc/keys.md); everything else follows
 * the defaults.* settings of mhkit.conf at the time of reading, so a
 * changed default reaches every domain that did not override it.
 *
 * Public functions: domain_init, domain_setting_lookup, domain_setting_name,
 * domain_setting_is_flag, domain_setting_set, domain_setting_format,
 * domain_validate.
 *
 * Beyond the SPEC's table: `pin` (off): the route of a relay domain is
 * fixed when mail is received (mhpolicyd hands Postfix a FILTER action
 * with smtp:[dest]:port, stored in the queue file) instead of looked up
 * at every delivery attempt.
 *
 * Pure code: no I/O, no logging. Errors are one phrase in err, naming the
 * setting and the value (made printable and capped: it may come from Redis
 * and end up in the log).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "domain.h"
#include "log.h"
#include "units.h"

enum domain_type {
	DOMAIN_TYPE_SERVICE,
	DOMAIN_TYPE_HOST,
	DOMAIN_TYPE_PORT,
	DOMAIN_TYPE_BOOL,
	DOMAIN_TYPE_SCORE,
	DOMAIN_TYPE_DISCARD_ACTION,
	DOMAIN_TYPE_TAG,
	DOMAIN_TYPE_ZONES,
	DOMAIN_TYPE_SPF,
	DOMAIN_TYPE_SIZE
};

static const struct domain_setting_info {
	const char *name;
	enum domain_type type;
	size_t	offset;
	const char *choices;		/* for the error message of enumerations */
} domain_settings[DOMAIN_SET_COUNT] = {
	[DOMAIN_SET_SERVICE] = {"service", DOMAIN_TYPE_SERVICE, offsetof(struct domain, service), "relay or backup"},
	[DOMAIN_SET_DEST] = {"dest", DOMAIN_TYPE_HOST, offsetof(struct domain, dest), NULL},
	[DOMAIN_SET_PORT] = {"port", DOMAIN_TYPE_PORT, offsetof(struct domain, port), NULL},
	[DOMAIN_SET_USERLIST] = {"userlist", DOMAIN_TYPE_BOOL, offsetof(struct domain, userlist), "on or off"},
	[DOMAIN_SET_CALLAHEAD] = {"callahead", DOMAIN_TYPE_BOOL, offsetof(struct domain, callahead), "on or off"},
	[DOMAIN_SET_SPAM] = {"spam", DOMAIN_TYPE_BOOL, offsetof(struct domain, spam), "on or off"},
	[DOMAIN_SET_TAG_LIMIT] = {"tag_limit", DOMAIN_TYPE_SCORE, offsetof(struct domain, tag_limit), NULL},
	[DOMAIN_SET_DISCARD_LIMIT] = {"discard_limit", DOMAIN_TYPE_SCORE, offsetof(struct domain, discard_limit), NULL},
	[DOMAIN_SET_DISCARD_ACTION] = {"discard_action", DOMAIN_TYPE_DISCARD_ACTION, offsetof(struct domain, discard_action), "discard or reject"},
	[DOMAIN_SET_SUBJECT_TAG] = {"subject_tag", DOMAIN_TYPE_TAG, offsetof(struct domain, subject_tag), NULL},
	[DOMAIN_SET_VIRUS] = {"virus", DOMAIN_TYPE_BOOL, offsetof(struct domain, virus), "on or off"},
	[DOMAIN_SET_DNSBLS] = {"dnsbls", DOMAIN_TYPE_ZONES, offsetof(struct domain, dnsbls), NULL},
	[DOMAIN_SET_SPF] = {"spf", DOMAIN_TYPE_SPF, offsetof(struct domain, spf), "off, tag or reject"},
	[DOMAIN_SET_MAX_SIZE] = {"max_size", DOMAIN_TYPE_SIZE, offsetof(struct domain, max_size), NULL},
	[DOMAIN_SET_PIN] = {"pin", DOMAIN_TYPE_BOOL, offsetof(struct domain, pin), "on or off"},
};

#define DOMAIN_QUOTE_MAX	100		/* value bytes quoted in an error */
#define DOMAIN_MAX_SIZE_MIN	((uint64_t) 1024)
#define DOMAIN_MAX_SIZE_MAX	((uint64_t) 1 << 31)

static inline void *
domain_field(struct domain *d, const struct domain_setting_info *info)
{
	return (char *) d + info->offset;
}

static inline const void *
domain_cfield(const struct domain *d, const struct domain_setting_info *info)
{
	return (const char *) d + info->offset;
}

/* domain_init - every setting at its default */
void
domain_init(struct domain *d, const char *name, const struct conf *conf)
{
	size_t	n;

	memset(d, 0, sizeof(*d));
	if (name && (n = strlen(name)) < sizeof(d->name))
		memcpy(d->name, name, n + 1);
	d->service = DOMAIN_SERVICE_RELAY;
	d->port = 25;
	d->userlist = 0;
	d->callahead = 1;
	d->spam = 1;
	d->virus = 1;
	d->spf = DOMAIN_SPF_TAG;
	d->tag_limit = conf->defaults_tag_limit;
	d->discard_limit = conf->defaults_discard_limit;
	d->discard_action = conf->defaults_discard_action;
	if ((n = strlen(conf->defaults_subject_tag)) < sizeof(d->subject_tag))
		memcpy(d->subject_tag, conf->defaults_subject_tag, n + 1);
	d->max_size = conf->defaults_max_size;
}

/* domain_setting_lookup - setting by name; '-' and '_' are the same */
int
domain_setting_lookup(const char *name)
{
	for (int i = 0; i < DOMAIN_SET_COUNT; i++) {
		const char *a = domain_settings[i].name;
		const char *b = name;

		while (*a && *b && (*a == *b || (*a == '_' && *b == '-')))
			a++, b++;
		if (*a == 0 && *b == 0)
			return i;
	}
	return -1;
}

/* domain_setting_is_flag - on/off settings */
int
domain_setting_is_flag(enum domain_setting s)
{
	return domain_settings[s].type == DOMAIN_TYPE_BOOL;
}

/* domain_setting_name - the name as in the SPEC and in Redis */
const char *
domain_setting_name(enum domain_setting s)
{
	return domain_settings[s].name;
}

/* domain_parse_bool - on/off and the usual synonyms */
static int
domain_parse_bool(const char *value, int *out)
{
	static const char *const yes[] = {"on", "yes", "true", "1"};
	static const char *const no[] = {"off", "no", "false", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(value, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* domain_parse_host - a host name or an IP address, canonical */
static int
domain_parse_host(const char *value, char *out, size_t outlen, char *err, size_t errlen)
{
	unsigned char addr[16];

	if (*value == 0) {
		out[0] = 0;
		return 0;
	}
	if (inet_pton(AF_INET, value, addr) == 1)
		return inet_ntop(AF_INET, addr, out, (socklen_t) outlen) ? 0 : -1;
	if (inet_pton(AF_INET6, value, addr) == 1)
		return inet_ntop(AF_INET6, addr, out, (socklen_t) outlen) ? 0 : -1;
	return address_parse_domain(value, strlen(value), out, outlen, err, errlen);
}

/* domain_parse_zones - comma (or space) separated DNSBL zones, duplicates dropped */
static int
domain_parse_zones(struct domain *d, const char *value, char *err, size_t errlen)
{
	char	zones[DOMAIN_DNSBL_MAX][DOMAIN_NAME_MAX + 1];
	size_t	count = 0;
	const char *p = value;
	char	why[200];
	char	q[DOMAIN_NAME_MAX + 1];

	while (*p) {
		size_t	n;
		int	dup = 0;

		p += strspn(p, ", ");
		if (*p == 0)
			break;
		n = strcspn(p, ", ");
		if (count == DOMAIN_DNSBL_MAX) {
			snprintf(err, errlen, "more than %d DNSBL zones", DOMAIN_DNSBL_MAX);
			return -1;
		}
		if (address_parse_domain(p, n, zones[count], sizeof(zones[count]),
					 why, sizeof(why)) < 0) {
			snprintf(err, errlen, "bad DNSBL zone \"%s\": %s",
				 log_printable(q, sizeof(q), p, n), why);
			return -1;
		}
		for (size_t i = 0; i < count; i++)
			dup |= strcmp(zones[i], zones[count]) == 0;
		if (!dup)
			count++;
		p += n;
	}
	memcpy(d->dnsbls, zones, sizeof(zones[0]) * count);
	d->dnsbl_count = count;
	return 0;
}

/* domain_parse_tag - printable ASCII, bounded */
static int
domain_parse_tag(struct domain *d, const char *value, char *err, size_t errlen)
{
	if (strlen(value) > DOMAIN_SUBJECT_TAG_MAX) {
		snprintf(err, errlen, "longer than %d bytes", DOMAIN_SUBJECT_TAG_MAX);
		return -1;
	}
	for (const char *p = value; *p; p++) {
		if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e) {
			snprintf(err, errlen, "only printable ASCII is allowed");
			return -1;
		}
	}
	snprintf(d->subject_tag, sizeof(d->subject_tag), "%s", value);
	return 0;
}

/* domain_parse_choice - index of value in a NULL-terminated list, -1 if absent */
static int
domain_parse_choice(const char *value, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(value, list[i]) == 0)
			return i;
	return -1;
}

static const char *const domain_service_names[] = {"relay", "backup", NULL};
static const char *const domain_action_names[] = {"discard", "reject", NULL};
static const char *const domain_spf_names[] = {"off", "tag", "reject", NULL};

/* domain_setting_set - parse one value into the domain */
int
domain_setting_set(struct domain *d, enum domain_setting s, const char *value,
		   char *err, size_t errlen)
{
	const struct domain_setting_info *info = &domain_settings[s];
	char	why[300] = "";
	char	q[DOMAIN_QUOTE_MAX + 1];
	uint64_t u;
	int	i;

	switch (info->type) {
	case DOMAIN_TYPE_SERVICE:
		if ((i = domain_parse_choice(value, domain_service_names)) < 0)
			goto choices;
		d->service = (enum domain_service) i;
		break;
	case DOMAIN_TYPE_HOST:
		if (domain_parse_host(value, domain_field(d, info), DOMAIN_NAME_MAX + 1,
				      why, sizeof(why)) < 0)
			goto bad;
		break;
	case DOMAIN_TYPE_PORT:
		if (units_parse_uint(value, 1, 65535, &u, why, sizeof(why)) < 0)
			goto bad;
		*(unsigned *) domain_field(d, info) = (unsigned) u;
		break;
	case DOMAIN_TYPE_BOOL:
		if (domain_parse_bool(value, domain_field(d, info)) < 0)
			goto choices;
		break;
	case DOMAIN_TYPE_SCORE:
		if (units_parse_score(value, domain_field(d, info), why, sizeof(why)) < 0)
			goto bad;
		break;
	case DOMAIN_TYPE_DISCARD_ACTION:
		if ((i = domain_parse_choice(value, domain_action_names)) < 0)
			goto choices;
		d->discard_action = (enum conf_discard_action) i;
		break;
	case DOMAIN_TYPE_TAG:
		if (domain_parse_tag(d, value, why, sizeof(why)) < 0)
			goto bad;
		break;
	case DOMAIN_TYPE_ZONES:
		if (domain_parse_zones(d, value, why, sizeof(why)) < 0)
			goto bad;
		break;
	case DOMAIN_TYPE_SPF:
		if ((i = domain_parse_choice(value, domain_spf_names)) < 0)
			goto choices;
		d->spf = (enum domain_spf) i;
		break;
	case DOMAIN_TYPE_SIZE:
		if (units_parse_size(value, &u, why, sizeof(why)) < 0)
			goto bad;
		if (u < DOMAIN_MAX_SIZE_MIN || u > DOMAIN_MAX_SIZE_MAX) {
			snprintf(why, sizeof(why), "out of range 1K..2G");
			goto bad;
		}
		d->max_size = u;
		break;
	}
	d->set_mask |= 1u << s;
	return 0;

choices:
	snprintf(why, sizeof(why), "must be %s", info->choices);
bad:
	snprintf(err, errlen, "%s: bad value \"%s\": %s", info->name,
		 log_printable(q, sizeof(q), value, strlen(value)), why);
	return -1;
}

/* domain_setting_format - canonical text of one setting */
char   *
domain_setting_format(const struct domain *d, enum domain_setting s, char *buf, size_t len)
{
	const struct domain_setting_info *info = &domain_settings[s];
	size_t	used = 0;
	double	score;
	int	w;

	buf[0] = 0;
	switch (info->type) {
	case DOMAIN_TYPE_SERVICE:
		snprintf(buf, len, "%s", domain_service_names[d->service]);
		break;
	case DOMAIN_TYPE_HOST:
		snprintf(buf, len, "%s", (const char *) domain_cfield(d, info));
		break;
	case DOMAIN_TYPE_PORT:
		snprintf(buf, len, "%u", *(const unsigned *) domain_cfield(d, info));
		break;
	case DOMAIN_TYPE_BOOL:
		snprintf(buf, len, "%s", *(const int *) domain_cfield(d, info) ? "on" : "off");
		break;
	case DOMAIN_TYPE_SCORE:
		/*
		 * as precise as the user gave it (5.25) up to six decimals, at
		 * least one (5.0); never an exponent ("%g" writes 1e-05), which
		 * units_parse_score would refuse when the text is read back
		 */
		score = *(const double *) domain_cfield(d, info);
		w = snprintf(buf, len, "%.6f", score);
		if (w > 0 && (size_t) w < len && strchr(buf, '.') != NULL)
			while (buf[w - 1] == '0' && buf[w - 2] != '.')
				buf[--w] = 0;
		break;
	case DOMAIN_TYPE_DISCARD_ACTION:
		snprintf(buf, len, "%s", domain_action_names[d->discard_action]);
		break;
	case DOMAIN_TYPE_TAG:
		snprintf(buf, len, "%s", d->subject_tag);
		break;
	case DOMAIN_TYPE_ZONES:
		for (size_t i = 0; i < d->dnsbl_count && used < len; i++) {
			int	n = snprintf(buf + used, len - used, "%s%s", i ? "," : "", d->dnsbls[i]);

			if (n < 0)
				break;
			used += (size_t) n;
		}
		break;
	case DOMAIN_TYPE_SPF:
		snprintf(buf, len, "%s", domain_spf_names[d->spf]);
		break;
	case DOMAIN_TYPE_SIZE:
		units_format_size(d->max_size, buf, len);
		break;
	}
	return buf;
}

/* domain_validate - rules across settings */
int
domain_validate(const struct domain *d, char *err, size_t errlen, char *warn, size_t warnlen)
{
	unsigned char addr[16];

	if (warnlen)
		warn[0] = 0;
	if (d->service == DOMAIN_SERVICE_RELAY && d->dest[0] == 0) {
		snprintf(err, errlen, "%s: a relay domain needs --dest HOST", d->name);
		return -1;
	}
	if (d->service == DOMAIN_SERVICE_RELAY
	    && (inet_pton(AF_INET, d->dest, addr) == 1 || inet_pton(AF_INET6, d->dest, addr) == 1))
		snprintf(warn, warnlen, "%s: dest %s is an IP address; a host name lets the "
			 "customer move servers without asking us", d->name, d->dest);
	else if (d->service == DOMAIN_SERVICE_BACKUP && d->dest[0])
		snprintf(warn, warnlen, "%s: dest is not used for a backup domain (its mail goes "
			 "to its most preferred MX)", d->name);
	return 0;
}
