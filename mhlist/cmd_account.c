/*
 * cmd_account.c - mhlist account add|set|show|list|del: outbound accounts
 * (SASL user names), the relay blocks they bought and whether the service
 * is on. The daily limit is blocks x outbound.relays_per_block (0 for a
 * disabled account).
 *
 * show and list also give today's use: the relays counted on the current
 * UTC day, what is left and when the day ends (the next 00:00 UTC, ISO
 * 8601). They come from the quota CHECK script with 0 relays
 * (quota/quota.h), so the day is Redis's (its TIME), never this host's
 * clock. list makes one script call per account; each call reads TIME
 * itself, so a list run across midnight may mix two days.
 *
 * Failures: Redis unreachable or the connection lost -> 69; a reply the
 * script never gives (e.g. a counter that is not a number) -> 65, naming
 * the account.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <hiredis/hiredis.h>

#include "account.h"
#include "mhlist.h"
#include "output.h"
#include "quota.h"

/* account_options - --blocks N, --enabled on|off */
static int
account_options(struct account *a, int argc, char **argv, int *have_blocks)
{
	char	err[256];

	for (int i = 0; i < argc; i++) {
		if (i + 1 == argc)
			return mhlist_usage("account", "%.100s needs a value", argv[i]);
		if (strcmp(argv[i], "--blocks") == 0) {
			if (account_parse_blocks(argv[++i], &a->blocks, err, sizeof(err)) < 0)
				return mhlist_fail(EX_DATAERR, "%s: --blocks: %s", a->name, err);
			*have_blocks = 1;
		} else if (strcmp(argv[i], "--enabled") == 0) {
			const char *v = argv[++i];

			if (strcasecmp(v, "on") == 0 || strcasecmp(v, "yes") == 0)
				a->enabled = 1;
			else if (strcasecmp(v, "off") == 0 || strcasecmp(v, "no") == 0)
				a->enabled = 0;
			else
				return mhlist_fail(EX_DATAERR, "%s: --enabled: must be on or off", a->name);
		} else {
			return mhlist_usage("account", "unknown option \"%.100s\"", argv[i]);
		}
	}
	return 0;
}

/*
 * account_today - today's use of a into res, limit = account_limit. 0, or
 * the exit status having said why: 69 when Redis cannot be reached, 65
 * for a reply the script never gives.
 */
static int
account_today(struct mhlist *m, const struct account *a, struct quota_result *res)
{
	struct quota_cmd cmd;
	struct rconn *rc = mhlist_store(m)->rc;
	redisReply *r;
	char	err[512];
	int	ret;

	if (quota_cmd_check(&cmd, a->name, account_limit(a, m->conf->outbound_relays_per_block),
			    0, err, sizeof(err)) < 0)
		return mhlist_fail(EX_DATAERR, "account %s: %s", a->name, err);
	r = rconn_commandargv(rc, cmd.argc, cmd.argv, cmd.argvlen);
	if (quota_is_noscript(r)) {
		freeReplyObject(r);
		quota_cmd_eval(&cmd);
		r = rconn_commandargv(rc, cmd.argc, cmd.argv, cmd.argvlen);
	}
	if (r == NULL)
		return mhlist_fail(EX_UNAVAILABLE, "Redis unavailable: %s", rconn_errstr(rc));
	ret = quota_parse(cmd.script, r, res, err, sizeof(err));
	freeReplyObject(r);
	if (ret < 0)
		return mhlist_fail(EX_DATAERR, "account %s: today's relay count: %s", a->name, err);
	return 0;
}

/* account_json - one account, with today's use when today is not NULL */
static json_t *
account_json(const struct account *a, unsigned per_block, const struct quota_result *today)
{
	json_t *o = json_object();
	char	reset[QUOTA_ISO_MAX];

	json_object_set_new(o, "account", json_string(a->name));
	json_object_set_new(o, "blocks", json_integer(a->blocks));
	json_object_set_new(o, "enabled", json_boolean(a->enabled));
	json_object_set_new(o, "limit", json_integer((json_int_t) account_limit(a, per_block)));
	if (today == NULL)
		return o;
	json_object_set_new(o, "used_today", json_integer((json_int_t) today->used));
	json_object_set_new(o, "left", json_integer((json_int_t) quota_left(today)));
	if (quota_reset_iso(today, reset, sizeof(reset)) == 0)
		json_object_set_new(o, "resets_at", json_string(reset));
	else
		json_object_set_new(o, "resets_at", json_null());
	return o;
}

/* account_name_arg - check a USER argument */
static int
account_name_arg(const char *name)
{
	char	err[200];

	if (account_name_valid(name, strlen(name), err, sizeof(err)) < 0)
		return mhlist_fail(EX_DATAERR, "bad account name \"%.100s\": %s", name, err);
	return 0;
}

/* account_write - add or set */
static int
account_write(struct mhlist *m, int create, int argc, char **argv)
{
	struct account a;
	int	have_blocks = 0, exists = 0, status;

	if (argc < 2)
		return mhlist_usage("account", "account %s needs a USER", argv[0]);
	if ((status = account_name_arg(argv[1])) != 0)
		return status;
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "%s", argv[1]);
	a.enabled = 1;
	if (!create) {
		status = mhlist_found(m, store_account_get(mhlist_store(m), argv[1], &a), "account", a.name);
		if (status != 0)
			return status;
		if (argc < 4)
			return mhlist_usage("account", "account set needs --blocks N or --enabled on|off");
	}
	if ((status = account_options(&a, argc - 2, argv + 2, &have_blocks)) != 0)
		return status;
	if (create && !have_blocks)
		return mhlist_usage("account", "account add needs --blocks N");
	if (store_account_put(mhlist_store(m), &a, create, &exists) != STORE_OK)
		return exists ? mhlist_fail(EX_DATAERR, "%s", m->st.errstr) : mhlist_backend(m);
	if (m->json) {
		json_t *o = account_json(&a, m->conf->outbound_relays_per_block, NULL);

		json_object_set_new(o, "result", json_string(create ? "added" : "updated"));
		output_json(o);
	} else {
		printf("account %s %s: %u blocks, %llu relays a day%s\n", a.name,
		       create ? "added" : "updated", a.blocks,
		       (unsigned long long) account_limit(&a, m->conf->outbound_relays_per_block),
		       a.enabled ? "" : " (disabled)");
	}
	return 0;
}

/* account_show - one account and today's use */
static int
account_show(struct mhlist *m, int argc, char **argv)
{
	static const char *const headers[] = {"SETTING", "VALUE"};
	struct output_table *t;
	struct account a;
	struct quota_result today;
	char	blocks[16], limit[32], used[QUOTA_NUM_MAX], left[QUOTA_NUM_MAX];
	char	reset[QUOTA_ISO_MAX];
	int	status;

	if (argc != 2)
		return mhlist_usage("account", "account show needs exactly one USER");
	if ((status = account_name_arg(argv[1])) != 0)
		return status;
	status = mhlist_found(m, store_account_get(mhlist_store(m), argv[1], &a), "account", argv[1]);
	if (status != 0)
		return status;
	if ((status = account_today(m, &a, &today)) != 0)
		return status;
	if (m->json) {
		output_json(account_json(&a, m->conf->outbound_relays_per_block, &today));
		return 0;
	}
	snprintf(blocks, sizeof(blocks), "%u", a.blocks);
	snprintf(limit, sizeof(limit), "%llu relays/day",
		 (unsigned long long) account_limit(&a, m->conf->outbound_relays_per_block));
	snprintf(used, sizeof(used), "%llu", (unsigned long long) today.used);
	snprintf(left, sizeof(left), "%llu", (unsigned long long) quota_left(&today));
	if (quota_reset_iso(&today, reset, sizeof(reset)) < 0)
		snprintf(reset, sizeof(reset), "?");
	t = output_table_new(2, headers);
	output_table_row(t, (const char *[]) {"account", a.name});
	output_table_row(t, (const char *[]) {"enabled", a.enabled ? "on" : "off"});
	output_table_row(t, (const char *[]) {"blocks", blocks});
	output_table_row(t, (const char *[]) {"limit", limit});
	output_table_row(t, (const char *[]) {"used_today", used});
	output_table_row(t, (const char *[]) {"left", left});
	output_table_row(t, (const char *[]) {"resets_at", reset});
	output_table_print(t);
	return 0;
}

/* account_list - every account, with today's use */
static int
account_list(struct mhlist *m, int argc, char **argv)
{
	static const char *const headers[] = {"ACCOUNT", "BLOCKS", "LIMIT", "USED", "LEFT", "ENABLED"};
	struct output_table *t = NULL;
	json_t *arr = NULL;
	char  **names;
	size_t	count;
	int	status = 0;

	if (argc != 1)
		return mhlist_usage("account", "account list takes no arguments");
	if (store_account_names(mhlist_store(m), &names, &count) != STORE_OK)
		return mhlist_backend(m);
	if (m->json)
		arr = json_array();
	else
		t = output_table_new(6, headers);
	for (size_t i = 0; i < count; i++) {
		struct account a;
		struct quota_result today;
		char	blocks[16], limit[32], used[QUOTA_NUM_MAX], left[QUOTA_NUM_MAX];

		switch (store_account_get(&m->st, names[i], &a)) {
		case STORE_OK:
			break;
		case STORE_NOTFOUND:
			continue;
		default:
			status = mhlist_backend(m);
			goto done;
		}
		if ((status = account_today(m, &a, &today)) != 0)
			goto done;
		if (arr) {
			json_array_append_new(arr, account_json(&a, m->conf->outbound_relays_per_block,
								&today));
			continue;
		}
		snprintf(blocks, sizeof(blocks), "%u", a.blocks);
		snprintf(limit, sizeof(limit), "%llu",
			 (unsigned long long) account_limit(&a, m->conf->outbound_relays_per_block));
		snprintf(used, sizeof(used), "%llu", (unsigned long long) today.used);
		snprintf(left, sizeof(left), "%llu", (unsigned long long) quota_left(&today));
		output_table_row(t, (const char *[]) {a.name, blocks, limit, used, left,
						      a.enabled ? "on" : "off"});
	}
done:
	if (arr && status == 0)
		output_json(arr);
	else if (arr)
		json_decref(arr);
	if (t && status == 0)
		output_table_print(t);
	else if (t)
		output_table_discard(t);
	store_names_free(names, count);
	return status;
}

/* account_del - remove an account */
static int
account_del(struct mhlist *m, int argc, char **argv)
{
	int	status;

	if (argc != 2)
		return mhlist_usage("account", "account del needs exactly one USER");
	if ((status = account_name_arg(argv[1])) != 0)
		return status;
	status = mhlist_found(m, store_account_delete(mhlist_store(m), argv[1]), "account", argv[1]);
	if (status != 0)
		return status;
	if (m->json) {
		json_t *o = json_object();

		json_object_set_new(o, "account", json_string(argv[1]));
		json_object_set_new(o, "result", json_string("deleted"));
		output_json(o);
	} else {
		printf("account %s deleted\n", argv[1]);
	}
	return 0;
}

/* cmd_account - dispatch the account subcommands */
int
cmd_account(struct mhlist *m, int argc, char **argv)
{
	if (argc < 2)
		return mhlist_usage("account", "account needs a subcommand");
	argc--, argv++;
	if (strcmp(argv[0], "add") == 0)
		return account_write(m, 1, argc, argv);
	if (strcmp(argv[0], "set") == 0)
		return account_write(m, 0, argc, argv);
	if (strcmp(argv[0], "show") == 0)
		return account_show(m, argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return account_list(m, argc, argv);
	if (strcmp(argv[0], "del") == 0)
		return account_del(m, argc, argv);
	return mhlist_usage("account", "unknown subcommand \"account %.100s\"", argv[0]);
}
