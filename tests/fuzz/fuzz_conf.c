/*
 * fuzz_conf.c - libFuzzer target for conf_load (common/conf.c): a whole
 * mhkit.conf, read by libconfig and then by our table of settings.
 *
 * FUZZ_SOURCES: common/conf.c common/conf_dump.c common/endpoint.c common/units.c common/sbuf.c common/log.c
 * FUZZ_CFLAGS: -DSYSCONFDIR="/etc"
 * FUZZ_LIBS: -lconfig
 * FUZZ_LEAK_OK: strbuf_append libconfig_yylex
 *
 * conf_load takes a path, so each input is written to one file in a
 * directory made once per process (under /dev/shm when it is writable,
 * else TMPDIR or /tmp) and removed at exit. An input with an @include
 * directive is skipped: following it would read the machine's files, not
 * exercise our parser.
 *
 * libconfig 1.5 itself leaks its lexer's tokens on some malformed files
 * (a string dropped by a syntax error); those allocations, made in its
 * libconfig_yylex and strbuf_append, are not reported. A conf.c that
 * forgot config_destroy would still be, by the settings libconfig
 * allocates in its parser.
 *
 * Checked, from conf.h and conf.c's promises: a refused file leaves
 * exactly one printable line in err that starts with the file's name and
 * a colon; a file that loads is dumped by conf_dump, the dump loads
 * again and dumps to the same text (what was read is what is written).
 * Leaks on either path are reported by LeakSanitizer. Any broken
 * invariant traps (__builtin_trap), which libFuzzer reports.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"

#define FUZZ_ERR_MAX	512

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_text {
	char   *s;
	size_t	len;
	size_t	cap;
};

static char fuzz_dir[256];
static char fuzz_path[300];
static char fuzz_path2[300];

/* fuzz_assert - a broken invariant is a crash */
static inline void
fuzz_assert(int ok)
{
	if (!ok)
		__builtin_trap();
}

/* fuzz_cleanup - remove the files and the directory at exit */
static void
fuzz_cleanup(void)
{
	unlink(fuzz_path);
	unlink(fuzz_path2);
	rmdir(fuzz_dir);
}

/* LLVMFuzzerInitialize - the private directory, once */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void) argc;
	(void) argv;
	if (access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (tmp == NULL || *tmp == 0)
		tmp = "/tmp";
	snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/mhkit-fuzz-conf.XXXXXX", tmp);
	if (mkdtemp(fuzz_dir) == NULL) {
		perror(fuzz_dir);
		exit(1);
	}
	snprintf(fuzz_path, sizeof(fuzz_path), "%s/mhkit.conf", fuzz_dir);
	snprintf(fuzz_path2, sizeof(fuzz_path2), "%s/dump.conf", fuzz_dir);
	atexit(fuzz_cleanup);
	return 0;
}

/* fuzz_write - the bytes as the whole file at path */
static void
fuzz_write(const char *path, const void *data, size_t len)
{
	FILE   *fp = fopen(path, "w");

	fuzz_assert(fp != NULL);
	fuzz_assert(len == 0 || fwrite(data, 1, len, fp) == len);
	fuzz_assert(fclose(fp) == 0);
}

/* fuzz_line - conf_dump's callback: append one line */
static void
fuzz_line(const char *line, void *ctx)
{
	struct fuzz_text *t = ctx;
	size_t	n = strlen(line);

	fuzz_assert(strchr(line, '\n') == NULL);
	if (t->len + n + 2 > t->cap) {
		t->cap = (t->len + n + 2) * 2;
		t->s = realloc(t->s, t->cap);
		fuzz_assert(t->s != NULL);
	}
	memcpy(t->s + t->len, line, n);
	t->len += n;
	t->s[t->len++] = '\n';
	t->s[t->len] = 0;
}

/* fuzz_refused - the one error line: "FILE:...", printable */
static void
fuzz_refused(const char *err, const char *path)
{
	size_t	n = strlen(path);

	fuzz_assert(memchr(err, 0, FUZZ_ERR_MAX) != NULL);
	fuzz_assert(strncmp(err, path, n) == 0 && err[n] == ':');
	for (const char *p = err; *p; p++)
		fuzz_assert((unsigned char) *p >= 0x20 && (unsigned char) *p <= 0x7e);
}

/* fuzz_has_include - libconfig's @include, in any case */
static int
fuzz_has_include(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 8 <= size; i++)
		if (data[i] == '@' && strncasecmp((const char *) data + i + 1, "include", 7) == 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_text a = {0}, b = {0};
	struct conf *conf, *again;
	char	err[FUZZ_ERR_MAX];

	if (fuzz_has_include(data, size))
		return 0;
	fuzz_write(fuzz_path, data, size);
	err[0] = 0;
	if ((conf = conf_load(fuzz_path, err, sizeof(err))) == NULL) {
		fuzz_refused(err, fuzz_path);
		return 0;
	}

	/* what was read is written back, and reads the same */
	conf_dump(conf, fuzz_line, &a);
	conf_free(conf);
	fuzz_assert(a.s != NULL);
	fuzz_write(fuzz_path2, a.s, a.len);
	again = conf_load(fuzz_path2, err, sizeof(err));
	if (again == NULL) {
		fprintf(stderr, "dump refused: %s\n%s", err, a.s);
		fuzz_assert(0);
	}
	conf_dump(again, fuzz_line, &b);
	conf_free(again);
	if (a.len != b.len || memcmp(a.s, b.s, a.len) != 0) {
		fprintf(stderr, "dump differs:\n%s---\n%s", a.s, b.s);
		fuzz_assert(0);
	}
	free(a.s);
	free(b.s);
	return 0;
}
