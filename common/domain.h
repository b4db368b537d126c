/* domain.h - a customer domain and its settings (see domain.c) */
#ifndef MH_DOMAIN_H
#define MH_DOMAIN_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define DOMAIN_NAME_MAX		255
#define DOMAIN_DNSBL_MAX	8	/* zones in `dnsbls` */
#define DOMAIN_SUBJECT_TAG_MAX	64	/* bytes of `subject_tag` */
#define DOMAIN_VALUE_MAX	(DOMAIN_DNSBL_MAX * (DOMAIN_NAME_MAX + 1) + 1)

enum domain_service {
	DOMAIN_SERVICE_RELAY,
	DOMAIN_SERVICE_BACKUP
};

enum domain_spf {
	DOMAIN_SPF_OFF,
	DOMAIN_SPF_TAG,
	DOMAIN_SPF_REJECT
};

/* the settings of the SPEC's domain table, in table order */
enum domain_setting {
	DOMAIN_SET_SERVICE,
	DOMAIN_SET_DEST,
	DOMAIN_SET_PORT,
	DOMAIN_SET_USERLIST,
	DOMAIN_SET_CALLAHEAD,
	DOMAIN_SET_SPAM,
	DOMAIN_SET_TAG_LIMIT,
	DOMAIN_SET_DISCARD_LIMIT,
	DOMAIN_SET_DISCARD_ACTION,
	DOMAIN_SET_SUBJECT_TAG,
	DOMAIN_SET_VIRUS,
	DOMAIN_SET_DNSBLS,
	DOMAIN_SET_SPF,
	DOMAIN_SET_MAX_SIZE,
	DOMAIN_SET_PIN,
	DOMAIN_SET_COUNT
};

struct domain {
	char	name[DOMAIN_NAME_MAX + 1];	/* lowercase, no trailing dot */
	enum domain_service service;
	char	dest[DOMAIN_NAME_MAX + 1];	/* host name or IP address; "" = none */
	unsigned port;
	int	userlist;
	int	callahead;
	int	spam;
	double	tag_limit;
	double	discard_limit;
	enum conf_discard_action discard_action;
	char	subject_tag[DOMAIN_SUBJECT_TAG_MAX + 1];
	int	virus;
	size_t	dnsbl_count;
	char	dnsbls[DOMAIN_DNSBL_MAX][DOMAIN_NAME_MAX + 1];
	enum domain_spf spf;
	uint64_t max_size;
	int	pin;			/* route fixed at receipt (FILTER), not looked up per attempt */
	unsigned set_mask;		/* bit (1 << DOMAIN_SET_x): set on the domain, not a default */
};

/* domain_init - a domain with every setting at its default (conf: the defaults.* settings) */
void	domain_init(struct domain *, const char *name, const struct conf *);
/* domain_setting_is_flag - an on/off setting, which `--NAME` alone turns on */
int	domain_setting_is_flag(enum domain_setting);
/* domain_setting_lookup - setting by name ("tag_limit" or "tag-limit"), -1 if unknown */
int	domain_setting_lookup(const char *name);
const char *domain_setting_name(enum domain_setting);
/* domain_setting_set - parse and store one value; marks it set. -1 with err on bad value */
int	domain_setting_set(struct domain *, enum domain_setting, const char *value,
			   char *err, size_t errlen);
/* domain_setting_format - the value in canonical text form, as stored in Redis */
char   *domain_setting_format(const struct domain *, enum domain_setting, char *buf, size_t len);
/* domain_validate - whole-domain rules (relay needs dest); -1 with err; *warn gets advice or "" */
int	domain_validate(const struct domain *, char *err, size_t errlen, char *warn, size_t warnlen);
/* domain_is_set - whether the setting was set on the domain rather than defaulted */
static inline int
domain_is_set(const struct domain *d, enum domain_setting s)
{
	return (d->set_mask >> s) & 1u;
}

#endif
