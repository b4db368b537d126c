/*
 * cmd_domain.c - mhlist domain add|set|show|list|del.
 *
 * Settings are given as --SETTING VALUE (names as in the SPEC's domain
 * table; '-' may stand for '_'). Every value is parsed and the whole
 * domain validated before anything is written, so a bad argument leaves
 * Redis as it was. `add` refuses an existing domain, `set` an unknown one.
 * An IP address as dest is accepted with a warning on stderr.
 * `set` of dest, port or callahead also purges the domain's cached
 * call-ahead verdicts (cmd_cache.c), after the settings are written, and
 * says how many (in JSON: "purged").
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "domain.h"
#include "mhlist.h"
#include "output.h"

/* domain_apply_options - parse --SETTING VALUE pairs into d */
static int
domain_apply_options(struct domain *d, int argc, char **argv)
{
	char	err[600];

	for (int i = 0; i < argc; i++) {
		int	s;

		if (strncmp(argv[i], "--", 2) != 0)
			return mhlist_usage("domain", "expected --SETTING VALUE, got \"%.100s\"", argv[i]);
		if ((s = domain_setting_lookup(argv[i] + 2)) < 0)
			return mhlist_usage("domain", "unknown setting \"%.100s\"", argv[i]);
		/* an on/off setting alone turns it on: --pin, --userlist */
		if (domain_setting_is_flag((enum domain_setting) s)
		    && (i + 1 == argc || strncmp(argv[i + 1], "--", 2) == 0)) {
			if (domain_setting_set(d, (enum domain_setting) s, "on", err, sizeof(err)) < 0)
				return mhlist_fail(EX_DATAERR, "%s: %s", d->name, err);
			continue;
		}
		if (i + 1 == argc)
			return mhlist_usage("domain", "%s needs a value", argv[i]);
		if (domain_setting_set(d, (enum domain_setting) s, argv[++i], err, sizeof(err)) < 0)
			return mhlist_fail(EX_DATAERR, "%s: %s", d->name, err);
	}
	return 0;
}

/* domain_json - one domain as a typed JSON object */
static json_t *
domain_json(const struct domain *d)
{
	json_t *o = json_object();
	json_t *set = json_array();
	json_t *zones = json_array();

	json_object_set_new(o, "domain", json_string(d->name));
	json_object_set_new(o, "service", json_string(d->service == DOMAIN_SERVICE_RELAY ? "relay" : "backup"));
	json_object_set_new(o, "dest", d->dest[0] ? json_string(d->dest) : json_null());
	json_object_set_new(o, "port", json_integer(d->port));
	json_object_set_new(o, "userlist", json_boolean(d->userlist));
	json_object_set_new(o, "callahead", json_boolean(d->callahead));
	json_object_set_new(o, "spam", json_boolean(d->spam));
	json_object_set_new(o, "tag_limit", json_real(d->tag_limit));
	json_object_set_new(o, "discard_limit", json_real(d->discard_limit));
	json_object_set_new(o, "discard_action",
			    json_string(d->discard_action == CONF_DISCARD_REJECT ? "reject" : "discard"));
	json_object_set_new(o, "subject_tag", json_string(d->subject_tag));
	json_object_set_new(o, "virus", json_boolean(d->virus));
	for (size_t i = 0; i < d->dnsbl_count; i++)
		json_array_append_new(zones, json_string(d->dnsbls[i]));
	json_object_set_new(o, "dnsbls", zones);
	json_object_set_new(o, "spf", json_string(d->spf == DOMAIN_SPF_OFF ? "off" :
						  d->spf == DOMAIN_SPF_TAG ? "tag" : "reject"));
	json_object_set_new(o, "max_size", json_integer((json_int_t) d->max_size));
	json_object_set_new(o, "pin", json_boolean(d->pin));
	for (int s = 0; s < DOMAIN_SET_COUNT; s++)
		if (domain_is_set(d, (enum domain_setting) s))
			json_array_append_new(set, json_string(domain_setting_name((enum domain_setting) s)));
	json_object_set_new(o, "set", set);
	return o;
}

/* the settings whose change makes cached call-ahead verdicts stale */
#define DOMAIN_CA_SETTINGS ((1u << DOMAIN_SET_DEST) | (1u << DOMAIN_SET_PORT) | (1u << DOMAIN_SET_CALLAHEAD) \
			    | (1u << DOMAIN_SET_SERVICE))

/*
 * domain_write - validate, warn, then create (before < 0) or update: only
 * the settings in d->set_mask are written; before holds those set earlier.
 * An update of a DOMAIN_CA_SETTINGS setting then purges the call-ahead cache.
 */
static int
domain_write(struct mhlist *m, struct domain *d, long before)
{
	int	create = before < 0;
	int	purge = !create && (d->set_mask & DOMAIN_CA_SETTINGS) != 0;
	long long purged = 0;
	char	err[600], warn[600];
	int	exists;
	enum store_result res;

	if (domain_validate(d, err, sizeof(err), warn, sizeof(warn)) < 0)
		return mhlist_fail(EX_DATAERR, "%s", err);
	if (warn[0])
		fprintf(stderr, "mhlist: warning: %s\n", warn);
	res = create ? store_domain_create(mhlist_store(m), d, &exists)
		: store_domain_update(mhlist_store(m), d);
	if (res != STORE_OK)
		return create && exists ? mhlist_fail(EX_DATAERR, "%s", m->st.errstr) : mhlist_backend(m);
	if (purge && cache_purge_domain(m, d->name, &purged) != STORE_OK)
		return mhlist_fail(EX_UNAVAILABLE, "domain %s updated, but its cached call-ahead "
				   "verdicts were not purged: %s", d->name, m->st.errstr);
	if (!create)
		d->set_mask |= (unsigned) before;
	if (m->json) {
		json_t *o = domain_json(d);

		json_object_set_new(o, "result", json_string(create ? "added" : "updated"));
		if (purge)
			json_object_set_new(o, "purged", json_integer(purged));
		output_json(o);
	} else {
		printf("domain %s %s\n", d->name, create ? "added" : "updated");
		if (purge) {
			char	shown[DOMAIN_NAME_MAX + 2];

			snprintf(shown, sizeof(shown), "@%s", d->name);
			cache_print_purged(shown, purged);
		}
	}
	return 0;
}

/* domain_add - create a domain */
static int
domain_add(struct mhlist *m, int argc, char **argv)
{
	struct domain d;
	char	name[DOMAIN_NAME_MAX + 1];
	int	status;

	if (argc < 2)
		return mhlist_usage("domain", "domain add needs a DOMAIN");
	if ((status = mhlist_domain_arg(argv[1], name, sizeof(name))) != 0)
		return status;
	domain_init(&d, name, m->conf);
	if ((status = domain_apply_options(&d, argc - 2, argv + 2)) != 0)
		return status;
	if (!domain_is_set(&d, DOMAIN_SET_SERVICE))
		return mhlist_usage("domain", "domain add needs --service relay|backup");
	return domain_write(m, &d, -1);
}

/* domain_set - change settings of an existing domain */
static int
domain_set(struct mhlist *m, int argc, char **argv)
{
	struct domain d;
	char	name[DOMAIN_NAME_MAX + 1];
	unsigned before;
	int	status;

	if (argc < 2)
		return mhlist_usage("domain", "domain set needs a DOMAIN");
	if (argc < 4)
		return mhlist_usage("domain", "domain set needs at least one --SETTING VALUE");
	if ((status = mhlist_domain_arg(argv[1], name, sizeof(name))) != 0)
		return status;
	status = mhlist_found(m, store_domain_get(mhlist_store(m), name, &d), "domain", name);
	if (status != 0)
		return status;
	before = d.set_mask;
	d.set_mask = 0;
	if ((status = domain_apply_options(&d, argc - 2, argv + 2)) != 0)
		return status;
	return domain_write(m, &d, before);
}

/* domain_show - every setting, and where its value comes from */
static int
domain_show(struct mhlist *m, int argc, char **argv)
{
	static const char *const headers[] = {"SETTING", "VALUE", "SOURCE"};
	struct output_table *t;
	struct domain d;
	char	name[DOMAIN_NAME_MAX + 1];
	char	value[DOMAIN_VALUE_MAX];
	int	status;

	if (argc != 2)
		return mhlist_usage("domain", "domain show needs exactly one DOMAIN");
	if ((status = mhlist_domain_arg(argv[1], name, sizeof(name))) != 0)
		return status;
	status = mhlist_found(m, store_domain_get(mhlist_store(m), name, &d), "domain", name);
	if (status != 0)
		return status;
	if (m->json) {
		output_json(domain_json(&d));
		return 0;
	}
	printf("domain %s\n", d.name);
	t = output_table_new(3, headers);
	for (int s = 0; s < DOMAIN_SET_COUNT; s++) {
		const char *row[3];

		row[0] = domain_setting_name((enum domain_setting) s);
		row[1] = domain_setting_format(&d, (enum domain_setting) s, value, sizeof(value));
		row[2] = domain_is_set(&d, (enum domain_setting) s) ? "set" : "default";
		if (row[1][0] == 0)
			row[1] = "-";
		output_table_row(t, row);
	}
	output_table_print(t);
	return 0;
}

/* domain_list - every domain, one line each */
static int
domain_list(struct mhlist *m, int argc, char **argv)
{
	static const char *const headers[] = {"DOMAIN", "SERVICE", "DEST", "PORT", "USERLIST", "CALLAHEAD"};
	struct output_table *t = NULL;
	json_t *arr = NULL;
	char  **names;
	size_t	count;
	int	status = 0;

	if (argc != 1)
		return mhlist_usage("domain", "domain list takes no arguments");
	if (store_domain_names(mhlist_store(m), &names, &count) != STORE_OK)
		return mhlist_backend(m);
	if (m->json)
		arr = json_array();
	else
		t = output_table_new(6, headers);
	for (size_t i = 0; i < count; i++) {
		struct domain d;
		char	port[8];

		switch (store_domain_get(&m->st, names[i], &d)) {
		case STORE_OK:
			break;
		case STORE_NOTFOUND:	/* deleted while we listed */
			continue;
		default:
			status = mhlist_backend(m);
			goto done;
		}
		if (arr) {
			json_array_append_new(arr, domain_json(&d));
		} else {
			const char *row[6] = {d.name, d.service == DOMAIN_SERVICE_RELAY ? "relay" : "backup",
				d.dest[0] ? d.dest : "-", port, d.userlist ? "on" : "off",
			d.callahead ? "on" : "off"};

			snprintf(port, sizeof(port), "%u", d.port);
			output_table_row(t, row);
		}
	}
done:
	if (arr && status == 0)
		output_json(arr);
	else if (arr)
		json_decref(arr);
	if (t)
		output_table_print(t);
	store_names_free(names, count);
	return status;
}

/* domain_del - the domain and its lists */
static int
domain_del(struct mhlist *m, int argc, char **argv)
{
	char	name[DOMAIN_NAME_MAX + 1];
	long long purged = 0;
	int	status;

	if (argc != 2)
		return mhlist_usage("domain", "domain del needs exactly one DOMAIN");
	if ((status = mhlist_domain_arg(argv[1], name, sizeof(name))) != 0)
		return status;
	status = mhlist_found(m, store_domain_delete(mhlist_store(m), name), "domain", name);
	if (status != 0)
		return status;
	/* its call-ahead verdicts go too: a domain added again starts afresh */
	if (cache_purge_domain(m, name, &purged) != STORE_OK)
		return mhlist_fail(EX_UNAVAILABLE, "domain %s deleted, but its cached call-ahead verdicts "
				   "were not purged: %s", name, m->st.errstr);
	if (m->json) {
		json_t *o = json_object();

		json_object_set_new(o, "domain", json_string(name));
		json_object_set_new(o, "result", json_string("deleted"));
		json_object_set_new(o, "purged", json_integer(purged));
		output_json(o);
	} else {
		printf("domain %s deleted\n", name);
		if (purged) {
			char	shown[DOMAIN_NAME_MAX + 2];

			snprintf(shown, sizeof(shown), "@%s", name);
			cache_print_purged(shown, purged);
		}
	}
	return 0;
}

/* cmd_domain - dispatch the domain subcommands */
int
cmd_domain(struct mhlist *m, int argc, char **argv)
{
	if (argc < 2)
		return mhlist_usage("domain", "domain needs a subcommand");
	argc--, argv++;
	if (strcmp(argv[0], "add") == 0)
		return domain_add(m, argc, argv);
	if (strcmp(argv[0], "set") == 0)
		return domain_set(m, argc, argv);
	if (strcmp(argv[0], "show") == 0)
		return domain_show(m, argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return domain_list(m, argc, argv);
	if (strcmp(argv[0], "del") == 0)
		return domain_del(m, argc, argv);
	return mhlist_usage("domain", "unknown subcommand \"domain %.100s\"", argv[0]);
}
