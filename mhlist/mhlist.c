/*
 * mhlist.c - the mhkit admin CLI: global options, command dispatch,
 * usage texts and the exit statuses every command shares.
 *
 *	mhlist [-c FILE] [--json] [-v] COMMAND ...
 *
 * Exit statuses follow sysexits.h: 0 done, 64 usage (with the usage of
 * the command on stderr), 65 bad data (a malformed address, entry or
 * import line, named with its line; an unknown domain or account),
 * 69 Redis unavailable (naming the address tried), 78 configuration.
 * Nothing is written to Redis before all arguments have been checked.
 *
 * Public functions (for the command files): mhlist_store, mhlist_usage,
 * mhlist_help, mhlist_fail, mhlist_backend, mhlist_wants_help,
 * mhlist_domain_arg, mhlist_need_domain.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "log.h"
#include "mhlist.h"

static const struct mhlist_command {
	const char *name;
	mhlist_cmd_fn fn;
	const char *usage;
} mhlist_commands[] = {
	{"domain", cmd_domain,
		"domain add DOMAIN --service relay|backup [--dest HOST] [--port N] [--SETTING VALUE ...]\n"
		"domain set DOMAIN --SETTING VALUE ...\n"
		"domain show DOMAIN\n"
		"domain list\n"
		"domain del DOMAIN\n"
		"  settings: service dest port userlist callahead spam tag_limit discard_limit\n"
		"            discard_action subject_tag virus dnsbls spf max_size\n"},
	{"users", cmd_users,
		"users add DOMAIN LOCALPART...\n"
		"users del DOMAIN LOCALPART...\n"
		"users list DOMAIN\n"
		"users import [--add] DOMAIN [FILE|-]\n"
		"  import replaces the list atomically (--add merges); one local part\n"
		"  (or LOCAL@DOMAIN) a line, blank lines and #comments skipped\n"},
	{"whitelist", cmd_whitelist,
		"whitelist add|del DOMAIN|--global ENTRY...\n"
		"whitelist list DOMAIN|--global\n"
		"  ENTRY: bob@example.org, @example.org, .example.org, 192.0.2.1, 2001:db8::/32\n"},
	{"blacklist", cmd_blacklist,
		"blacklist add|del DOMAIN|--global ENTRY...\n"
		"blacklist list DOMAIN|--global\n"
		"  ENTRY: bob@example.org, @example.org, .example.org, 192.0.2.1, 2001:db8::/32\n"},
	{"account", cmd_account,
		"account add USER --blocks N [--enabled on|off]\n"
		"account set USER [--blocks N] [--enabled on|off]\n"
		"account show USER\n"
		"account list\n"
		"account del USER\n"
		"  show and list give today's use: used_today, left, resets_at (next 00:00 UTC\n"
		"  by Redis's clock); limit = blocks x outbound.relays_per_block, 0 when disabled\n"},
	{"cache", cmd_cache,
		"cache show ADDRESS|@DOMAIN\n"
		"cache purge ADDRESS|@DOMAIN\n"
		"  call-ahead verdicts mhpolicyd cached: show gives each one's verdict, age,\n"
		"  expiry, host:port probed, code and remote text; purge drops them for every\n"
		"  node (domain set of dest, port or callahead purges the domain's)\n"},
	{"check", cmd_check,
		"check DOMAIN\n"
		"  MX order against node.hostnames, the SPF record, the destination's banner\n"
		"  (exit 1 when a check finds a problem)\n"},
	{"explain", cmd_explain,
		"explain SENDER RCPT [--client IP] [--size N]\n"
		"  what mhpolicyd (and then mhmilter) would do with this mail at RCPT, and why\n"},
};

#define MHLIST_NCOMMANDS (sizeof(mhlist_commands) / sizeof(mhlist_commands[0]))

static const char mhlist_global_usage[] =
	"usage: mhlist [-c FILE] [--json] [-v] COMMAND ...\n"
	"       mhlist --help | -V | COMMAND --help\n";

/* mhlist_print_usage - the usage of one command, or of all */
static void
mhlist_print_usage(FILE *fp, const char *command)
{
	fputs(mhlist_global_usage, fp);
	fputs("\n", fp);
	for (size_t i = 0; i < MHLIST_NCOMMANDS; i++) {
		const char *line = mhlist_commands[i].usage;

		if (command && strcmp(command, mhlist_commands[i].name) != 0)
			continue;
		while (*line) {
			size_t	n = strcspn(line, "\n");

			/* continuation lines (indented) are notes, not commands */
			fprintf(fp, "  %s%.*s\n", *line == ' ' ? "      " : "mhlist ", (int) n, line);
			line += n + (line[n] == '\n');
		}
	}
	if (command == NULL)
		fputs("\nexit: 0 done, 1 check found a problem, 64 usage, 65 bad data,\n"
		      "      69 Redis unavailable, 78 config\n", fp);
}

/* mhlist_usage - report a usage error of a command */
int
mhlist_usage(const char *command, const char *fmt, ...)
{
	va_list	ap;

	fputs("mhlist: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	mhlist_print_usage(stderr, command);
	return EX_USAGE;
}

/* mhlist_help - usage on stdout */
int
mhlist_help(const char *command)
{
	mhlist_print_usage(stdout, command);
	return 0;
}

/* mhlist_fail - an error line, then the status */
int
mhlist_fail(int status, const char *fmt, ...)
{
	va_list	ap;

	fputs("mhlist: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return status;
}

/* mhlist_wants_help - -h or --help anywhere */
int
mhlist_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

/* mhlist_store - connect on first use */
struct store *
mhlist_store(struct mhlist *m)
{
	if (m->rc == NULL) {
		m->rc = rconn_new(m->conf);
		store_init(&m->st, m->rc, m->conf);
		if (rconn_connect(m->rc) < 0) {
			mhlist_fail(EX_UNAVAILABLE, "Redis unavailable: %s", rconn_errstr(m->rc));
			rconn_free(m->rc);
			conf_free(m->conf);
			exit(EX_UNAVAILABLE);
		}
	}
	return &m->st;
}

/* mhlist_backend - report a failed store call */
int
mhlist_backend(struct mhlist *m)
{
	return mhlist_fail(EX_UNAVAILABLE, "Redis unavailable: %s", m->st.errstr);
}

/* mhlist_domain_arg - check and canonicalise a domain argument */
int
mhlist_domain_arg(const char *arg, char *out, size_t outlen)
{
	char	err[256];

	if (address_parse_domain(arg, strlen(arg), out, outlen, err, sizeof(err)) < 0)
		return mhlist_fail(EX_DATAERR, "bad domain \"%.255s\": %s", arg, err);
	return 0;
}

/* mhlist_found - turn a lookup's three outcomes into an exit status */
int
mhlist_found(struct mhlist *m, enum store_result res, const char *what, const char *name)
{
	switch (res) {
	case STORE_OK:
		return 0;
	case STORE_NOTFOUND:
		return mhlist_fail(EX_DATAERR, "%s %s not found", what, name);
	default:
		return mhlist_backend(m);
	}
}

/* mhlist_need_domain - the domain must exist */
int
mhlist_need_domain(struct mhlist *m, const char *domain)
{
	return mhlist_found(m, store_domain_exists(mhlist_store(m), domain), "domain", domain);
}

int
main(int argc, char **argv)
{
	struct mhlist m = {.progname = "mhlist"};
	const char *conf_path = NULL;
	char	err[1200];
	int	i;
	int	status;

	log_open("mhlist", 1, NULL);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0) {
			if (++i == argc)
				return mhlist_usage(NULL, "-c needs a FILE");
			conf_path = argv[i];
		} else if (strcmp(argv[i], "--json") == 0) {
			m.json = 1;
		} else if (strcmp(argv[i], "-v") == 0) {
			log_set_verbose(msg_verbose + 1);
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("mhlist (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			return mhlist_help(NULL);
		} else {
			return mhlist_usage(NULL, "unknown option \"%.100s\"", argv[i]);
		}
	}
	if (i == argc)
		return mhlist_usage(NULL, "no command given");
	for (size_t c = 0; c < MHLIST_NCOMMANDS; c++) {
		if (strcmp(argv[i], mhlist_commands[c].name) != 0)
			continue;
		if (mhlist_wants_help(argc - i, argv + i))
			return mhlist_help(mhlist_commands[c].name);
		if ((m.conf = conf_load(conf_path, err, sizeof(err))) == NULL)
			return mhlist_fail(EX_CONFIG, "%s", err);
		status = mhlist_commands[c].fn(&m, argc - i, argv + i);
		if (fflush(stdout) != 0 && status == 0)
			status = mhlist_fail(EX_IOERR, "writing output: %m");
		if (m.rc)
			rconn_free(m.rc);
		conf_free(m.conf);
		return status;
	}
	return mhlist_usage(NULL, "unknown command \"%.100s\"", argv[i]);
}
