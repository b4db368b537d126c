/*
 * cmd_users.c - mhlist users add|del|list|import: a domain's user list,
 * the local parts its relay accepts when `userlist` is on.
 *
 * Local parts are stored canonical (lowercase, unquoted where RFC 5321
 * allows), so lookups are case-insensitive. add/del check every argument
 * before writing any.
 *
 * import streams FILE (or stdin): one local part or LOCAL@DOMAIN a line,
 * CRLF or LF, blank lines and lines starting with '#' skipped, spaces
 * around a value ignored. Lines are read through a fixed buffer and
 * checked as bytes arrive: a line longer than USERS_LINE_MAX, a NUL byte
 * or a malformed local part aborts the import naming the line (exit 65),
 * and the list is left as it was (the staging key is dropped). Memory
 * does not grow with the file. On a terminal, stderr shows a progress bar.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "mhlist.h"
#include "output.h"

#define USERS_LINE_MAX		1024	/* bytes of one import line, CRLF excluded */
#define USERS_READ_CHUNK	65536	/* bytes read at a time */
#define USERS_PROGRESS_NS	100000000L	/* redraw the bar at most every 100 ms */

/* users_canonical - local part of an argument or line: "bob" or "bob@DOMAIN" */
static int
users_canonical(const char *domain, const char *text, size_t len, char *out, size_t outlen,
		char *err, size_t errlen)
{
	struct address a;
	const char *at = memrchr(text, '@', len);

	/* LOCAL@DOMAIN: the last '@', unless it sits inside a quoted local part */
	if (at && memchr(at, '"', len - (size_t) (at - text)) == NULL) {
		if (address_parse(text, len, &a, err, errlen) < 0)
			return -1;
		if (strcmp(a.domain, domain) != 0) {
			snprintf(err, errlen, "address is not in %s", domain);
			return -1;
		}
		snprintf(out, outlen, "%s", a.local);
		return 0;
	}
	return address_parse_local(text, len, out, outlen, err, errlen);
}

/* users_change - add or del local parts given as arguments */
static int
users_change(struct mhlist *m, int add, int argc, char **argv)
{
	char	domain[DOMAIN_NAME_MAX + 1];
	char  **locals;
	long long changed;
	int	status;

	if (argc < 3)
		return mhlist_usage("users", "users %s needs a DOMAIN and at least one LOCALPART",
				    add ? "add" : "del");
	if ((status = mhlist_domain_arg(argv[1], domain, sizeof(domain))) != 0)
		return status;
	if ((locals = calloc((size_t) argc, sizeof(*locals))) == NULL)
		return mhlist_fail(EX_OSERR, "out of memory");
	for (int i = 2; i < argc; i++) {
		char	local[ADDRESS_LOCAL_MAX * 2 + 3];
		char	err[256];

		if (users_canonical(domain, argv[i], strlen(argv[i]), local, sizeof(local),
				    err, sizeof(err)) < 0) {
			status = mhlist_fail(EX_DATAERR, "bad local part \"%.100s\": %s", argv[i], err);
			goto done;
		}
		locals[i - 2] = strdup(local);
	}
	if ((status = mhlist_need_domain(m, domain)) != 0)
		goto done;
	if (store_users_change(&m->st, domain, add, locals, (size_t) argc - 2, &changed) != STORE_OK) {
		status = mhlist_backend(m);
		goto done;
	}
	if (m->json) {
		json_t *o = json_object();

		json_object_set_new(o, "domain", json_string(domain));
		json_object_set_new(o, add ? "added" : "deleted", json_integer(changed));
		output_json(o);
	} else {
		printf("%s: %lld %s\n", domain, changed, add ? "added" : "deleted");
	}
done:
	for (int i = 0; i < argc; i++)
		free(locals[i]);
	free(locals);
	return status;
}

/* users_list - the whole list, sorted */
static int
users_list(struct mhlist *m, int argc, char **argv)
{
	char	domain[DOMAIN_NAME_MAX + 1];
	char  **locals;
	size_t	count;
	int	status;

	if (argc != 2)
		return mhlist_usage("users", "users list needs exactly one DOMAIN");
	if ((status = mhlist_domain_arg(argv[1], domain, sizeof(domain))) != 0)
		return status;
	if ((status = mhlist_need_domain(m, domain)) != 0)
		return status;
	if (store_users_members(&m->st, domain, &locals, &count) != STORE_OK)
		return mhlist_backend(m);
	if (m->json) {
		json_t *o = json_object();

		json_object_set_new(o, "domain", json_string(domain));
		json_object_set_new(o, "users", output_json_strings(locals, count));
		output_json(o);
	} else {
		for (size_t i = 0; i < count; i++)
			printf("%s\n", locals[i]);
	}
	store_names_free(locals, count);
	return 0;
}

struct users_progress {
	int	on;			/* stderr is a terminal */
	off_t	total;			/* file size, 0 if unknown (a pipe) */
	struct timespec last;
};

/* users_progress_draw - one line redrawn in place */
static void
users_progress_draw(struct users_progress *p, off_t done, unsigned long lines, int final)
{
	struct timespec now;

	if (!p->on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!final && (now.tv_sec - p->last.tv_sec) * 1000000000L
	    + (now.tv_nsec - p->last.tv_nsec) < USERS_PROGRESS_NS)
		return;
	p->last = now;
	if (p->total > 0) {
		int	pct = (int) (done * 100 / p->total);
		int	bar = pct * 30 / 100;

		fprintf(stderr, "\r[%.*s%*s] %3d%% %lu lines", bar,
			"##############################", 30 - bar, "", pct, lines);
	} else {
		fprintf(stderr, "\r%lu lines", lines);
	}
	if (final)
		fputc('\n', stderr);
}

/* users_import_line - one line, CR and surrounding blanks stripped */
static int
users_import_line(struct store_import *imp, const char *domain, char *line, size_t len,
		  unsigned long lineno, unsigned long *count)
{
	char	local[ADDRESS_LOCAL_MAX * 2 + 3];
	char	err[256];

	if (len && line[len - 1] == '\r')
		len--;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (len == 0 || line[0] == '#')
		return 0;
	if (memchr(line, 0, len) != NULL)
		return mhlist_fail(EX_DATAERR, "line %lu: NUL byte; nothing changed", lineno);
	if (users_canonical(domain, line, len, local, sizeof(local), err, sizeof(err)) < 0) {
		char	shown[64];

		for (size_t i = 0; i < sizeof(shown) - 1; i++)
			shown[i] = i < len ? ((unsigned char) line[i] >= 0x20
				&& (unsigned char) line[i] < 0x7f ? line[i] : '?') : 0;
		shown[sizeof(shown) - 1] = 0;
		return mhlist_fail(EX_DATAERR, "line %lu: \"%s%s\": %s; nothing changed", lineno,
				   shown, len >= sizeof(shown) ? "..." : "", err);
	}
	(*count)++;
	return store_import_add(imp, local, strlen(local)) == STORE_OK ? 0 : -1;
}

/* users_import - stream a file into a staging key, then swap it in */
static int
users_import(struct mhlist *m, int argc, char **argv)
{
	char	domain[DOMAIN_NAME_MAX + 1];
	struct users_progress progress = {0};
	struct store_import *imp;
	const char *path = "-";
	char   *buf = NULL;
	size_t	held = 0;		/* bytes of the current line in buf */
	unsigned long lineno = 1, count = 0;
	off_t	done = 0;
	long long total = 0;
	int	merge = 0, fd, status;
	struct stat sb;

	argc--, argv++;
	if (argc > 0 && strcmp(argv[0], "--add") == 0)
		merge = 1, argc--, argv++;
	if (argc < 1 || argc > 2)
		return mhlist_usage("users", "users import needs a DOMAIN and at most one FILE");
	if (argc == 2)
		path = argv[1];
	if ((status = mhlist_domain_arg(argv[0], domain, sizeof(domain))) != 0)
		return status;
	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return mhlist_fail(EX_NOINPUT, "%s: %s", path, strerror(errno));
	if ((status = mhlist_need_domain(m, domain)) != 0)
		goto close;
	progress.on = isatty(STDERR_FILENO);
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		progress.total = sb.st_size;
	if ((buf = malloc(USERS_READ_CHUNK + USERS_LINE_MAX + 1)) == NULL) {
		status = mhlist_fail(EX_OSERR, "out of memory");
		goto close;
	}
	imp = store_import_begin(&m->st, domain);

	/*
	 * buf holds the unfinished line (at most USERS_LINE_MAX bytes) followed
	 * by what was just read. A line that passes the limit is an error at
	 * once: we do not read on to its end.
	 */
	for (;;) {
		ssize_t	n = read(fd, buf + held, USERS_READ_CHUNK);
		char   *start = buf, *end, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			status = mhlist_fail(EX_IOERR, "%s: %s; nothing changed", path, strerror(errno));
			goto abort;
		}
		done += n;
		end = buf + held + n;
		if (n == 0) {		/* last line without a newline */
			if (held && (status = users_import_line(imp, domain, buf, held, lineno, &count)) != 0)
				goto abort_status;
			break;
		}
		while ((nl = memchr(start, '\n', (size_t) (end - start))) != NULL) {
			if (nl - start > USERS_LINE_MAX)
				goto too_long;
			if ((status = users_import_line(imp, domain, start, (size_t) (nl - start),
							lineno, &count)) != 0)
				goto abort_status;
			lineno++;
			start = nl + 1;
		}
		held = (size_t) (end - start);
		if (held > USERS_LINE_MAX)
			goto too_long;
		memmove(buf, start, held);
		users_progress_draw(&progress, done, lineno - 1, 0);
	}
	if (store_import_commit(imp, merge, &total) != STORE_OK) {
		status = mhlist_backend(m);
		goto close;
	}
	users_progress_draw(&progress, done, lineno - 1, 1);
	if (m->json) {
		json_t *o = json_object();

		json_object_set_new(o, "domain", json_string(domain));
		json_object_set_new(o, "imported", json_integer((json_int_t) count));
		json_object_set_new(o, "total", json_integer(total));
		json_object_set_new(o, "mode", json_string(merge ? "merge" : "replace"));
		output_json(o);
	} else {
		printf("%s: %lu imported (%s), %lld in the list\n", domain, count,
		       merge ? "merged" : "replaced", total);
	}
	status = 0;
	goto close;

too_long:
	status = mhlist_fail(EX_DATAERR, "line %lu: longer than %d bytes; nothing changed",
			     lineno, USERS_LINE_MAX);
	goto abort;
abort_status:
	if (status < 0)
		status = mhlist_backend(m);
abort:
	if (progress.on)
		fputc('\n', stderr);
	store_import_abort(imp);
close:
	free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	return status;
}

/* cmd_users - dispatch the users subcommands */
int
cmd_users(struct mhlist *m, int argc, char **argv)
{
	if (argc < 2)
		return mhlist_usage("users", "users needs a subcommand");
	argc--, argv++;
	if (strcmp(argv[0], "add") == 0)
		return users_change(m, 1, argc, argv);
	if (strcmp(argv[0], "del") == 0)
		return users_change(m, 0, argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return users_list(m, argc, argv);
	if (strcmp(argv[0], "import") == 0)
		return users_import(m, argc, argv);
	return mhlist_usage("users", "unknown subcommand \"users %.100s\"", argv[0]);
}
