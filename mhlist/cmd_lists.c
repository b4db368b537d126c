/*
 * cmd_lists.c - mhlist whitelist|blacklist add|del|list: sender lists of
 * a domain, or the global ones (--global).
 *
 * Entries are stored canonical (see listentry.c): full address, @domain
 * (that domain only), .domain (the domain and its subdomains), IP
 * address or CIDR (v4, v6). Every entry is checked before any is written;
 * a malformed one is exit 65 naming it. Precedence at lookup time: the
 * domain's lists beat the global ones, a whitelist beats a blacklist of
 * the same scope (senderlist.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listentry.h"
#include "mhlist.h"
#include "output.h"

/* lists_run - one list command */
static int
lists_run(struct mhlist *m, enum keys_list which, int argc, char **argv)
{
	const char *cmd = which == KEYS_LIST_WHITE ? "whitelist" : "blacklist";
	char	domain[DOMAIN_NAME_MAX + 1];
	const char *scope;
	char  **entries = NULL;
	size_t	count = 0;
	long long changed;
	int	add, status = 0;

	if (argc < 3)
		return mhlist_usage(cmd, "%s needs a subcommand and DOMAIN or --global", cmd);
	if (strcmp(argv[1], "add") == 0)
		add = 1;
	else if (strcmp(argv[1], "del") == 0)
		add = 0;
	else if (strcmp(argv[1], "list") == 0)
		add = -1;
	else
		return mhlist_usage(cmd, "unknown subcommand \"%s %.100s\"", cmd, argv[1]);
	if (add == -1 && argc != 3)
		return mhlist_usage(cmd, "%s list needs exactly one DOMAIN or --global", cmd);
	if (add != -1 && argc < 4)
		return mhlist_usage(cmd, "%s %s needs DOMAIN or --global and at least one ENTRY",
				    cmd, argv[1]);
	if (strcmp(argv[2], "--global") == 0) {
		scope = NULL;
	} else if (argv[2][0] == '-') {
		return mhlist_usage(cmd, "unknown option \"%.100s\"", argv[2]);
	} else {
		if ((status = mhlist_domain_arg(argv[2], domain, sizeof(domain))) != 0)
			return status;
		scope = domain;
	}

	if (add != -1) {
		if ((entries = calloc((size_t) argc, sizeof(*entries))) == NULL)
			return mhlist_fail(EX_OSERR, "out of memory");
		for (int i = 3; i < argc; i++) {
			struct listentry e;
			char	err[256];

			if (listentry_parse(argv[i], strlen(argv[i]), &e, err, sizeof(err)) < 0) {
				status = mhlist_fail(EX_DATAERR, "bad entry \"%.100s\": %s", argv[i], err);
				goto done;
			}
			entries[count++] = strdup(e.text);
		}
	}
	if (scope && (status = mhlist_need_domain(m, scope)) != 0)
		goto done;
	if (add == -1) {
		if (store_list_members(mhlist_store(m), scope, which, &entries, &count) != STORE_OK) {
			status = mhlist_backend(m);
			goto done;
		}
		if (m->json) {
			json_t *o = json_object();

			json_object_set_new(o, "scope", json_string(scope ? scope : "global"));
			json_object_set_new(o, "list", json_string(cmd));
			json_object_set_new(o, "entries", output_json_strings(entries, count));
			output_json(o);
		} else {
			for (size_t i = 0; i < count; i++)
				printf("%s\n", entries[i]);
		}
		goto done;
	}
	if (store_list_change(mhlist_store(m), scope, which, add, entries, count, &changed) != STORE_OK) {
		status = mhlist_backend(m);
		goto done;
	}
	if (m->json) {
		json_t *o = json_object();

		json_object_set_new(o, "scope", json_string(scope ? scope : "global"));
		json_object_set_new(o, "list", json_string(cmd));
		json_object_set_new(o, add ? "added" : "deleted", json_integer(changed));
		output_json(o);
	} else {
		printf("%s %s: %lld %s\n", scope ? scope : "global", cmd, changed,
		       add ? "added" : "deleted");
	}
done:
	store_names_free(entries, count);
	return status;
}

int
cmd_whitelist(struct mhlist *m, int argc, char **argv)
{
	return lists_run(m, KEYS_LIST_WHITE, argc, argv);
}

int
cmd_blacklist(struct mhlist *m, int argc, char **argv)
{
	return lists_run(m, KEYS_LIST_BLACK, argc, argv);
}
