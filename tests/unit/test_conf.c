/*
 * test_conf.c - mhkit.conf: defaults, every setting, and every kind of
 * error with its exact "FILE:LINE: SETTING: what is wrong" line.  Files
 * are written into a mkdtemp directory and removed.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_table.h"
#include "sbuf.h"

#define COUNT(a)	(sizeof(a) / sizeof((a)[0]))
#define MB		(1024ULL * 1024)

static char tmpdir[64];

/* setup - a fresh directory for this test's files */
static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* teardown - remove the files and the directory */
static void
teardown(void)
{
	static const char *const names[] = {"mhkit.conf", "dump.conf", "inc.conf"};
	char	path[128];

	for (size_t i = 0; i < COUNT(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

/* write_file - name in tmpdir with text; the path is returned in path */
static void
write_file(const char *name, const char *text, char *path, size_t pathlen)
{
	FILE   *fp;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/* load_text - write text as mhkit.conf and load it */
static struct conf *
load_text(const char *text, char *path, size_t pathlen, char *err, size_t errlen)
{
	write_file("mhkit.conf", text, path, pathlen);
	err[0] = 0;
	return conf_load(path, err, errlen);
}

/* dump_line - conf_dump callback: collect lines, newline-separated */
static void
dump_line(const char *line, void *ctx)
{
	ck_assert_int_eq(sbuf_puts(ctx, line), 0);
	ck_assert_int_eq(sbuf_putc(ctx, '\n'), 0);
}

/* check_defaults - every setting at its documented default */
static void
check_defaults(const struct conf *c)
{
	ck_assert_str_eq(c->redis_host, "127.0.0.1");
	ck_assert_uint_eq(c->redis_port, 6379);
	ck_assert_str_eq(c->redis_unix, "");
	ck_assert_uint_eq(c->redis_db, 0);
	ck_assert_str_eq(c->redis_user, "");
	ck_assert_str_eq(c->redis_password, "");
	ck_assert_uint_eq(c->redis_timeout_ms, 2000);
	ck_assert_uint_eq(c->redis_wait_replicas, 0);
	ck_assert_str_eq(c->redis_sentinel_master, "");
	ck_assert_uint_eq(c->redis_sentinel_count, 0);
	ck_assert_str_eq(c->redis_sentinel_password, "");
	ck_assert_uint_eq(c->dns_server_count, 0);
	ck_assert_uint_eq(c->dns_timeout_ms, 5000);
	ck_assert_int_eq(c->milter_listen.kind, ENDPOINT_INET);
	ck_assert_str_eq(c->milter_listen.host, "127.0.0.1");
	ck_assert_uint_eq(c->milter_listen.port, 10028);
	ck_assert_int_eq(c->milter_spamd.kind, ENDPOINT_INET);
	ck_assert_uint_eq(c->milter_spamd.port, 783);
	ck_assert_int_eq(c->milter_clamd.kind, ENDPOINT_UNIX);
	ck_assert_str_eq(c->milter_clamd.path, "/run/clamav/clamd.ctl");
	ck_assert_int_eq(c->milter_on_scanner_error, CONF_ON_ERROR_ACCEPT);
	ck_assert_int_eq(c->milter_metrics.kind, ENDPOINT_NONE);
	ck_assert_int_eq(c->policyd_listen.kind, ENDPOINT_INET);
	ck_assert_str_eq(c->policyd_listen.host, "127.0.0.1");
	ck_assert_uint_eq(c->policyd_listen.port, 10027);
	ck_assert_uint_eq(c->policyd_socketmap.port, 10029);
	ck_assert_int_eq(c->policyd_on_backend_error, CONF_BACKEND_DEFER);
	ck_assert_int_eq(c->policyd_metrics.kind, ENDPOINT_NONE);
	ck_assert_str_eq(c->callahead_helo, "");
	ck_assert_str_eq(c->callahead_probe_sender, "");
	ck_assert_uint_eq(c->callahead_connect_timeout_ms, 10000);
	ck_assert_uint_eq(c->callahead_reply_timeout_ms, 30000);
	ck_assert_uint_eq(c->callahead_positive_ttl_ms, 7 * 86400000ULL);
	ck_assert_uint_eq(c->callahead_negative_ttl_ms, 3600000);
	ck_assert_uint_eq(c->callahead_tempfail_ttl_ms, 300000);
	ck_assert_uint_eq(c->callahead_max_per_destination, 4);
	ck_assert_uint_eq(c->outbound_relays_per_block, 150);
	ck_assert_uint_eq(c->outbound_max_recipients, 100);
	ck_assert_uint_eq(c->outbound_max_size, 50 * MB);
	ck_assert_str_eq(c->outbound_quota_reply, "452 4.7.1");
	ck_assert_uint_eq(c->defaults_max_size, 10 * MB);
	ck_assert_double_eq(c->defaults_tag_limit, 5.0);
	ck_assert_double_eq(c->defaults_discard_limit, 10.0);
	ck_assert_int_eq(c->defaults_discard_action, CONF_DISCARD_DISCARD);
	ck_assert_str_eq(c->defaults_subject_tag, "[SPAM]");
	ck_assert_str_eq(c->user, "");
	ck_assert_str_eq(c->pidfile, "");
	ck_assert_str_eq(c->syslog_facility, "mail");
}

START_TEST(test_defaults)
{
	struct conf *c = conf_defaults();

	check_defaults(c);
	ck_assert_str_eq(c->path, "");
	ck_assert_uint_eq(c->node_hostnames.count, 0);
	conf_free(c);
}
END_TEST

/* a reload replaces a backend only when its settings changed: what counts as a change */
START_TEST(test_same_backends)
{
	static const char *const redis_changes[] = {
		"redis = { host = \"10.0.0.1\"; };", "redis = { port = 6380; };",
		"redis = { unix = \"/run/redis.sock\"; };", "redis = { db = 2; };",
		"redis = { password = \"x\"; };", "redis = { timeout = \"3s\"; };",
		"redis = { sentinel = { master = \"m\"; servers = [\"10.0.0.2\"]; password = \"p\"; }; };",
	};
	char	path[128], err[512];
	struct conf *base = load_text("dns = { timeout = \"2s\"; };", path, sizeof(path), err, sizeof(err));
	struct conf *c;

	ck_assert_msg(base != NULL, "%s", err);
	c = load_text("dns = { timeout = \"2s\"; }; policyd = { on_backend_error = \"dunno\"; };",
		      path, sizeof(path), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_same_redis(base, c), 1);	/* other settings: no change */
	ck_assert_int_eq(conf_same_dns(base, c), 1);
	conf_free(c);
	for (size_t i = 0; i < sizeof(redis_changes) / sizeof(redis_changes[0]); i++) {
		c = load_text(redis_changes[i], path, sizeof(path), err, sizeof(err));
		ck_assert_msg(c != NULL, "%s: %s", redis_changes[i], err);
		ck_assert_msg(conf_same_redis(base, c) == 0, "%s: not seen as a change", redis_changes[i]);
		conf_free(c);
	}
	/* the sentinel's password alone */
	c = load_text("redis = { sentinel = { master = \"m\"; servers = [\"10.0.0.2\"]; password = \"p\"; }; };",
		      path, sizeof(path), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	{
		struct conf *d = load_text("redis = { sentinel = { master = \"m\"; servers = [\"10.0.0.2\"]; password = \"q\"; }; };",
					   path, sizeof(path), err, sizeof(err));

		ck_assert_msg(d != NULL, "%s", err);
		ck_assert_int_eq(conf_same_redis(c, d), 0);
		conf_free(d);
	}
	conf_free(c);
	c = load_text("dns = { timeout = \"3s\"; };", path, sizeof(path), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_same_dns(base, c), 0);
	conf_free(c);
	c = load_text("dns = { timeout = \"2s\"; servers = [\"127.0.0.1@5353\"]; };", path, sizeof(path), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(conf_same_dns(base, c), 0);
	conf_free(c);
	conf_free(base);
}
END_TEST

START_TEST(test_empty_file)
{
	char	path[128];
	char	err[512];
	char	host[256];
	struct conf *c = load_text("", path, sizeof(path), err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	check_defaults(c);
	ck_assert_str_eq(c->path, path);
	/* node.hostnames empty -> this host's name, when it is a valid one */
	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	if (c->node_hostnames.count == 1)
		ck_assert_str_eq(c->node_hostnames.items[0], host);
	else
		ck_assert_uint_eq(c->node_hostnames.count, 0);
	conf_free(c);
}
END_TEST

START_TEST(test_comments_only)
{
	char	path[128];
	char	err[512];
	struct conf *c = load_text("# nothing set\n// at all\n/* really */\n\n", path, sizeof(path),
				   err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	check_defaults(c);
	conf_free(c);
}
END_TEST

static const char full_conf[] =
"user = \"mhkit\";\n"
"pidfile = \"/run/mhkit/mhpolicyd.pid\";\n"
"syslog_facility = \"local3\";\n"
"redis = {\n"
"  host = \"10.0.0.1\";\n"
"  port = 6380;\n"
"  unix = \"/run/redis/redis.sock\";\n"
"  db = 3;\n"
"  user = \"mhkit\";\n"
"  password = \"s3cr\\\"et\";\n"
"  timeout = \"500ms\";\n"
"  sentinel = {\n"
"    master = \"mymaster\";\n"
"    servers = [\"10.0.0.1:26380\", \"10.0.0.2\", \"[::1]:5000\"];\n"
"    password = \"sentpw\";\n"
"  };\n"
"};\n"
"node = { hostnames = [\"mx1.example.com\", \"mx2.example.com\"]; };\n"
"dns = {\n"
"  servers = [\"127.0.0.1@5353\", \"::1\"];\n"
"  timeout = 3;\n"
"};\n"
"milter = {\n"
"  listen = \"unix:/run/mhkit/milter.sock\";\n"
"  spamd = \"inet:[::1]:7830\";\n"
"  clamd = \"inet:clamd.example.com:3310\";\n"
"  on_scanner_error = \"tempfail\";\n"
"  metrics = \"inet:127.0.0.1:9428\";\n"
"};\n"
"policyd = {\n"
"  listen = \"inet:0.0.0.0:20027\";\n"
"  socketmap = \"unix:/run/mhkit/socketmap.sock\";\n"
"  on_backend_error = \"dunno\";\n"
"  metrics = \"inet:127.0.0.1:9427\";\n"
"};\n"
"callahead = {\n"
"  helo = \"mx1.example.com\";\n"
"  probe_sender = \"probe@example.com\";\n"
"  connect_timeout = \"5s\";\n"
"  reply_timeout = 45;\n"
"  positive_ttl = \"2w\";\n"
"  negative_ttl = \"30m\";\n"
"  tempfail_ttl = \"90s\";\n"
"  max_per_destination = 8;\n"
"};\n"
"outbound = {\n"
"  relays_per_block = 200;\n"
"  max_recipients = 50;\n"
"  max_size = 52428800L;\n"
"  quota_reply = \"554 5.7.1\";\n"
"};\n"
"defaults = {\n"
"  max_size = \"20MB\";\n"
"  tag_limit = 4.5;\n"
"  discard_limit = 3;\n"
"  discard_action = \"reject\";\n"
"  subject_tag = \"***SPAM***\";\n"
"};\n";

/* check_full - the values of full_conf */
static void
check_full(const struct conf *c)
{
	ck_assert_str_eq(c->user, "mhkit");
	ck_assert_str_eq(c->pidfile, "/run/mhkit/mhpolicyd.pid");
	ck_assert_str_eq(c->syslog_facility, "local3");
	ck_assert_str_eq(c->redis_host, "10.0.0.1");
	ck_assert_uint_eq(c->redis_port, 6380);
	ck_assert_str_eq(c->redis_unix, "/run/redis/redis.sock");
	ck_assert_uint_eq(c->redis_db, 3);
	ck_assert_str_eq(c->redis_user, "mhkit");
	ck_assert_str_eq(c->redis_password, "s3cr\"et");
	ck_assert_uint_eq(c->redis_timeout_ms, 500);
	ck_assert_str_eq(c->redis_sentinel_master, "mymaster");
	ck_assert_uint_eq(c->redis_sentinel_count, 3);
	ck_assert_str_eq(c->redis_sentinels[0].host, "10.0.0.1");
	ck_assert_uint_eq(c->redis_sentinels[0].port, 26380);
	ck_assert_str_eq(c->redis_sentinels[1].host, "10.0.0.2");
	ck_assert_uint_eq(c->redis_sentinels[1].port, 26379);
	ck_assert_str_eq(c->redis_sentinels[2].host, "::1");
	ck_assert_uint_eq(c->redis_sentinels[2].port, 5000);
	ck_assert_str_eq(c->redis_sentinel_password, "sentpw");
	ck_assert_uint_eq(c->node_hostnames.count, 2);
	ck_assert_str_eq(c->node_hostnames.items[0], "mx1.example.com");
	ck_assert_str_eq(c->node_hostnames.items[1], "mx2.example.com");
	ck_assert_uint_eq(c->dns_server_count, 2);
	ck_assert_str_eq(c->dns_servers[0].host, "127.0.0.1");
	ck_assert_uint_eq(c->dns_servers[0].port, 5353);
	ck_assert_str_eq(c->dns_servers[1].host, "::1");
	ck_assert_uint_eq(c->dns_servers[1].port, 0);
	ck_assert_uint_eq(c->dns_timeout_ms, 3000);
	ck_assert_int_eq(c->milter_listen.kind, ENDPOINT_UNIX);
	ck_assert_str_eq(c->milter_listen.path, "/run/mhkit/milter.sock");
	ck_assert_int_eq(c->milter_spamd.kind, ENDPOINT_INET);
	ck_assert_str_eq(c->milter_spamd.host, "::1");
	ck_assert_uint_eq(c->milter_spamd.port, 7830);
	ck_assert_str_eq(c->milter_clamd.host, "clamd.example.com");
	ck_assert_uint_eq(c->milter_clamd.port, 3310);
	ck_assert_int_eq(c->milter_on_scanner_error, CONF_ON_ERROR_TEMPFAIL);
	ck_assert_uint_eq(c->milter_metrics.port, 9428);
	ck_assert_str_eq(c->policyd_listen.host, "0.0.0.0");
	ck_assert_uint_eq(c->policyd_listen.port, 20027);
	ck_assert_int_eq(c->policyd_socketmap.kind, ENDPOINT_UNIX);
	ck_assert_str_eq(c->policyd_socketmap.path, "/run/mhkit/socketmap.sock");
	ck_assert_int_eq(c->policyd_on_backend_error, CONF_BACKEND_DUNNO);
	ck_assert_uint_eq(c->policyd_metrics.port, 9427);
	ck_assert_str_eq(c->callahead_helo, "mx1.example.com");
	ck_assert_str_eq(c->callahead_probe_sender, "probe@example.com");
	ck_assert_uint_eq(c->callahead_connect_timeout_ms, 5000);
	ck_assert_uint_eq(c->callahead_reply_timeout_ms, 45000);
	ck_assert_uint_eq(c->callahead_positive_ttl_ms, 14 * 86400000ULL);
	ck_assert_uint_eq(c->callahead_negative_ttl_ms, 1800000);
	ck_assert_uint_eq(c->callahead_tempfail_ttl_ms, 90000);
	ck_assert_uint_eq(c->callahead_max_per_destination, 8);
	ck_assert_uint_eq(c->outbound_relays_per_block, 200);
	ck_assert_uint_eq(c->outbound_max_recipients, 50);
	ck_assert_uint_eq(c->outbound_max_size, 50 * MB);
	ck_assert_str_eq(c->outbound_quota_reply, "554 5.7.1");
	ck_assert_uint_eq(c->defaults_max_size, 20 * MB);
	ck_assert_double_eq(c->defaults_tag_limit, 4.5);
	ck_assert_double_eq(c->defaults_discard_limit, 3.0);
	ck_assert_int_eq(c->defaults_discard_action, CONF_DISCARD_REJECT);
	ck_assert_str_eq(c->defaults_subject_tag, "***SPAM***");
}

START_TEST(test_full_file)
{
	char	path[128];
	char	err[512];
	struct conf *c = load_text(full_conf, path, sizeof(path), err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	check_full(c);
	conf_free(c);
}
END_TEST

/*
 * test_dump_tiny_score - a score too small for 17 decimals (found by
 * fuzz_conf: "tag_limit = .0000000000234335990") dumps in exponent form
 * and reads back as the same double, as do the ordinary ones
 */
START_TEST(test_dump_tiny_score)
{
	static const char *const texts[] = {
		"defaults = { tag_limit = .0000000000234335990; discard_limit = 1e-300; };",
		"defaults = { tag_limit = -0.000000000000000001; discard_limit = 999.99999999999; };",
		"defaults = { tag_limit = 5.25; discard_limit = -7; };",
	};
	char	path[128], dpath[128], err[512];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct sbuf first, second;
		struct conf *c = load_text(texts[i], path, sizeof(path), err, sizeof(err));
		struct conf *d;

		ck_assert_msg(c != NULL, "%s: %s", texts[i], err);
		sbuf_init(&first, 1 << 20);
		sbuf_init(&second, 1 << 20);
		conf_dump(c, dump_line, &first);
		write_file("dump.conf", sbuf_str(&first), dpath, sizeof(dpath));
		d = conf_load(dpath, err, sizeof(err));
		ck_assert_msg(d != NULL, "%s: %s", texts[i], err);
		ck_assert_msg(d->defaults_tag_limit == c->defaults_tag_limit
			      && d->defaults_discard_limit == c->defaults_discard_limit,
			      "%s: read back as %.17g %.17g", texts[i], d->defaults_tag_limit, d->defaults_discard_limit);
		conf_dump(d, dump_line, &second);
		ck_assert_str_eq(sbuf_str(&first), sbuf_str(&second));
		sbuf_free(&first);
		sbuf_free(&second);
		conf_free(c);
		conf_free(d);
	}
}
END_TEST

/* test_dump_roundtrip - conf_dump writes a file that loads to the same values */
START_TEST(test_dump_roundtrip)
{
	char	path[128];
	char	dpath[128];
	char	err[512];
	struct sbuf first;
	struct sbuf second;
	struct conf *c = load_text(full_conf, path, sizeof(path), err, sizeof(err));
	struct conf *d;

	ck_assert_msg(c != NULL, "%s", err);
	sbuf_init(&first, 1 << 20);
	sbuf_init(&second, 1 << 20);
	conf_dump(c, dump_line, &first);
	write_file("dump.conf", sbuf_str(&first), dpath, sizeof(dpath));
	d = conf_load(dpath, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s\n%s", err, sbuf_str(&first));
	check_full(d);
	conf_dump(d, dump_line, &second);
	ck_assert_str_eq(sbuf_str(&first), sbuf_str(&second));
	/* a few lines as a reader sees them */
	ck_assert_ptr_nonnull(strstr(sbuf_str(&first), "redis = {\n  host = \"10.0.0.1\";\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&first), "  password = \"s3cr\\\"et\";\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&first), "  sentinel = {\n    master = \"mymaster\";\n"
		"    servers = [ \"10.0.0.1:26380\", \"10.0.0.2:26379\", \"[::1]:5000\" ];\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&first), "    password = \"sentpw\";\n  };\n  cluster = {\n"
		"    servers = [];\n  };\n};\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&first), "  positive_ttl = \"14d\";\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&first), "  discard_limit = 3.0;\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&first), "  spamd = \"inet:[::1]:7830\";\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&first), "  servers = [ \"127.0.0.1@5353\", \"::1\" ];\n"));
	sbuf_free(&first);
	sbuf_free(&second);
	conf_free(c);
	conf_free(d);
}
END_TEST

/* test_dump_defaults - every setting appears, groups balanced */
START_TEST(test_dump_defaults)
{
	struct conf *c = conf_defaults();
	struct sbuf sb;
	const char *p;
	int	depth = 0;
	int	settings = 0;

	sbuf_init(&sb, 1 << 20);
	conf_dump(c, dump_line, &sb);
	for (p = sbuf_str(&sb); *p; p = strchr(p, '\n') + 1) {
		const char *eol = strchr(p, '\n');

		if (eol - p >= 3 && strncmp(eol - 3, "= {", 3) == 0)
			depth++;
		else if (eol - p >= 2 && strncmp(eol - 2, "};", 2) == 0)
			depth--;
		else
			settings++;
		ck_assert_int_ge(depth, 0);
	}
	ck_assert_int_eq(depth, 0);
	ck_assert_int_eq(settings, (int) conf_table_count);	/* every setting of the table */
	ck_assert_ptr_nonnull(strstr(sbuf_str(&sb), "syslog_facility = \"mail\";\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&sb), "  idle_timeout = \"10m\";\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&sb), "  max_connections = 10000;\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&sb), "  cache_size = \"16M\";\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&sb), "  clamd = \"unix:/run/clamav/clamd.ctl\";\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&sb), "  tag_limit = 5.0;\n"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&sb), "  hostnames = [];\n"));
	sbuf_free(&sb);
	conf_free(c);
}
END_TEST

/*
 * Accepted files: after loading, conf_dump must contain the line.
 */
static const struct {
	const char *label;
	const char *text;
	const char *line;		/* a whole line of conf_dump output */
}	ok_cases[] = {
	{"size as bytes", "defaults = { max_size = 52428800; };\n", "  max_size = \"50M\";"},
	{"size as int64", "defaults = { max_size = 52428801L; };\n", "  max_size = \"52428801\";"},
	{"size string lower", "defaults = { max_size = \"512k\"; };\n", "  max_size = \"512K\";"},
	{"size over 32 bits without L", "outbound = { max_size = 3221225472; };\n",
	"  max_size = \"3G\";"},
	{"duration seconds", "redis = { timeout = 1; };\n", "  timeout = \"1s\";"},
	{"wait_replicas", "redis = { wait_replicas = 2; };\n", "  wait_replicas = 2;"},
	{"duration ms", "redis = { timeout = \"1500ms\"; };\n", "  timeout = \"1500ms\";"},
	{"duration int64", "callahead = { positive_ttl = 86400L; };\n", "  positive_ttl = \"1d\";"},
	{"score int", "defaults = { tag_limit = 7; };\n", "  tag_limit = 7.0;"},
	{"score negative", "defaults = { tag_limit = -2.5; };\n", "  tag_limit = -2.5;"},
	{"discard below tag", "defaults = { tag_limit = 8.0; discard_limit = 6.0; };\n",
	"  discard_limit = 6.0;"},
	{"list syntax ()", "node = { hostnames = (\"a.example\", \"b.example\"); };\n",
	"  hostnames = [ \"a.example\", \"b.example\" ];"},
	{"empty list", "dns = { servers = []; };\n", "  servers = [];"},
	{"hex port", "redis = { port = 0x18EB; };\n", "  port = 6379;"},
	{"colon assignment", "redis:\n{\n  port: 6381;\n};\n", "  port = 6381;"},
	{"ipv6 redis host", "redis = { host = \"::1\"; };\n", "  host = \"::1\";"},
	{"redis host name", "redis = { host = \"redis.example.com\"; };\n",
	"  host = \"redis.example.com\";"},
	{"metrics off", "milter = { metrics = \"\"; };\n", "  metrics = \"\";"},
	{"quota reply 5xx", "outbound = { quota_reply = \"554 5.7.1\"; };\n",
	"  quota_reply = \"554 5.7.1\";"},
	{"quota reply long dsn", "outbound = { quota_reply = \"451 4.123.456\"; };\n",
	"  quota_reply = \"451 4.123.456\";"},
	{"empty subject tag", "defaults = { subject_tag = \"\"; };\n", "  subject_tag = \"\";"},
	{"sentinel servers", "redis = { sentinel = { master = \"m\"; servers = [\"s1.example\"]; }; };\n",
	"    servers = [ \"s1.example:26379\" ];"},
	{"zero db", "redis = { db = 0; };\n", "  db = 0;"},
	{"facility local7", "syslog_facility = \"local7\";\n", "syslog_facility = \"local7\";"},
	{"include", "@include \"INC\"\n", "  port = 7000;"},
};

START_TEST(test_ok_cases)
{
	char	path[128];
	char	ipath[128];
	char	err[512];
	char	text[1024];
	const char *inc;
	struct sbuf sb;
	struct conf *c;

	/* "INC" stands for the absolute path of an included file */
	write_file("inc.conf", "redis = { port = 7000; };\n", ipath, sizeof(ipath));
	if ((inc = strstr(ok_cases[_i].text, "INC")) != NULL)
		snprintf(text, sizeof(text), "%.*s%s%s", (int) (inc - ok_cases[_i].text),
			 ok_cases[_i].text, ipath, inc + 3);
	else
		snprintf(text, sizeof(text), "%s", ok_cases[_i].text);
	c = load_text(text, path, sizeof(path), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s: %s", ok_cases[_i].label, err);
	sbuf_init(&sb, 1 << 20);
	sbuf_putc(&sb, '\n');
	conf_dump(c, dump_line, &sb);
	snprintf(text, sizeof(text), "\n%s\n", ok_cases[_i].line);
	ck_assert_msg(strstr(sbuf_str(&sb), text) != NULL, "%s: no line \"%s\" in\n%s",
		      ok_cases[_i].label, ok_cases[_i].line, sbuf_str(&sb));
	sbuf_free(&sb);
	conf_free(c);
}
END_TEST

/*
 * Rejected files: err must be exactly FILE ":" want.
 */
static const struct {
	const char *label;
	const char *text;
	const char *want;		/* after "FILE:" */
}	err_cases[] = {
	/* unknown names */
	{"unknown top-level setting", "user = \"x\";\n\nfoo = 1;\n", "3: foo: unknown setting"},
	{"unknown setting in a group", "redis = {\n  host = \"h.example\";\n  hots = \"x\";\n};\n",
	"3: redis.hots: unknown setting"},
	{"unknown setting in a subgroup", "redis = {\n  sentinel = {\n    mastr = \"m\";\n  };\n};\n",
	"3: redis.sentinel.mastr: unknown setting"},
	{"unknown group", "# c\nfoo = {\n  bar = 1;\n};\n", "2: foo: unknown group"},
	{"unknown group inside a group", "redis = {\n  shards = { nodes = []; };\n};\n",
	"2: redis.shards: unknown group"},
	{"cluster and sentinel", "redis = {\n  sentinel = { master = \"m\"; servers = [ \"h\" ]; };\n"
	"  cluster = { servers = [ \"h:7000\" ]; };\n};\n",
	"3: redis.cluster.servers: a cluster has no Sentinel: set one of the two"},
	{"cluster and unix", "redis = {\n  unix = \"/run/r.sock\";\n  cluster = { servers = [ \"h\" ]; };\n};\n",
	"3: redis.cluster.servers: a cluster is reached over TCP: redis.unix must be empty"},
	{"cluster and db", "redis = {\n  cluster = { servers = [ \"h\" ]; };\n  db = 1;\n};\n",
	"2: redis.cluster.servers: a cluster has database 0 only: redis.db must be 0"},
	{"unknown setting in the cluster group", "redis = {\n  cluster = { nodes = []; };\n};\n",
	"2: redis.cluster.nodes: unknown setting"},
	{"setting name as group", "redis = {\n  port = { x = 1; };\n};\n",
	"2: redis.port: expected an integer, not a group"},
	{"first error in file order wins", "zzz = 1;\nredis = { port = 0; };\n",
	"1: zzz: unknown setting"},
	{"case matters", "Redis = { port = 1; };\n", "1: Redis: unknown group"},

	/* wrong type, one per type class */
	{"group given a scalar", "redis = 5;\n", "1: redis: expected a group ({ ... }), not an integer"},
	{"string given an integer", "redis = {\n  host = 5;\n};\n",
	"2: redis.host: expected a string, not an integer"},
	{"uint given a string", "redis = {\n  port = \"6379\";\n};\n",
	"2: redis.port: expected an integer, not a string"},
	{"uint given a float", "redis = { db = 1.0; };\n",
	"1: redis.db: expected an integer, not a floating point number"},
	{"uint given a boolean", "callahead = { max_per_destination = true; };\n",
	"1: callahead.max_per_destination: expected an integer, not a boolean"},
	{"size given a float", "defaults = { max_size = 10.5; };\n",
	"1: defaults.max_size: expected a size (an integer of bytes or a string like \"10M\"),"
	" not a floating point number"},
	{"duration given a boolean", "redis = { timeout = false; };\n",
	"1: redis.timeout: expected a duration (a string like \"15m\" or an integer of seconds),"
	" not a boolean"},
	{"score given a string", "defaults = { tag_limit = \"5.0\"; };\n",
	"1: defaults.tag_limit: expected a number, not a string"},
	{"enum given an integer", "milter = { on_scanner_error = 1; };\n",
	"1: milter.on_scanner_error: expected a string (accept or tempfail), not an integer"},
	{"endpoint given an integer", "policyd = { listen = 10027; };\n",
	"1: policyd.listen: expected a socket string (\"inet:HOST:PORT\" or \"unix:/PATH\"),"
	" not an integer"},
	{"string list given a string", "node = { hostnames = \"mx1.example.com\"; };\n",
	"1: node.hostnames: expected a list of strings ([\"a\", \"b\"]), not a string"},
	{"dns list given a group", "dns = { servers = { a = 1; }; };\n",
	"1: dns.servers: expected a list of strings ([\"a\", \"b\"]), not a group"},
	{"hostport list of integers", "redis = { sentinel = {\n  servers = [1, 2];\n}; };\n",
	"2: redis.sentinel.servers: list entries must be strings, not an integer"},
	{"list entry on its own line", "node = { hostnames = (\n  \"a.example\",\n  3\n); };\n",
	"3: node.hostnames: list entries must be strings, not an integer"},

	/* out of range */
	{"port too big", "redis = {\n  host = \"10.0.0.1\";\n  port = 70000;\n};\n",
	"3: redis.port: 70000 is out of range 1..65535"},
	{"port zero", "redis = { port = 0; };\n", "1: redis.port: 0 is out of range 1..65535"},
	{"wait_replicas over 16", "redis = { wait_replicas = 17; };\n",
	"1: redis.wait_replicas: 17 is out of range 0..16"},
	{"port negative", "redis = { port = -1; };\n", "1: redis.port: -1 is out of range 1..65535"},
	{"port wraps in libconfig", "redis = {\n  port = 4294967297;\n};\n",
	"2: redis.port: 4294967297 is out of range 1..65535"},
	{"20-digit integer", "redis = { db = 99999999999999999999; };\n",
	"1: redis.db: integer 99999999999999999999 is too large"},
	{"per destination zero", "callahead = { max_per_destination = 0; };\n",
	"1: callahead.max_per_destination: 0 is out of range 1..1000"},
	{"size too small", "defaults = { max_size = 100; };\n",
	"1: defaults.max_size: 100 is out of range 1K..4G"},
	{"size too big", "outbound = { max_size = \"5G\"; };\n",
	"1: outbound.max_size: \"5G\" is out of range 1K..4G"},
	{"size negative", "defaults = { max_size = -1; };\n",
	"1: defaults.max_size: -1 is out of range 1K..4G"},
	{"timeout seconds too big", "dns = { timeout = 2000; };\n",
	"1: dns.timeout: 2000 (seconds) is out of range 10ms..10m"},
	{"timeout too small", "redis = { timeout = \"5ms\"; };\n",
	"1: redis.timeout: \"5ms\" is out of range 10ms..10m"},
	{"ttl zero", "callahead = { tempfail_ttl = 0; };\n",
	"1: callahead.tempfail_ttl: 0 (seconds) is out of range 1s..365d"},
	{"score too big", "defaults = { discard_limit = 1001.0; };\n",
	"1: defaults.discard_limit: 1001 is out of range -1000..1000"},

	/* bad values */
	{"bad size", "defaults = {\n  max_size = \"10X\";\n};\n",
	"2: defaults.max_size: bad size \"10X\": unknown suffix \"X\" (use K, M or G)"},
	{"bad size with space", "defaults = { max_size = \"10 M\"; };\n",
	"1: defaults.max_size: bad size \"10 M\": spaces are not allowed"},
	{"bad duration", "callahead = {\n  positive_ttl = \"7 days\";\n};\n",
	"2: callahead.positive_ttl: bad duration \"7 days\": spaces are not allowed"},
	{"bad duration suffix", "callahead = { negative_ttl = \"1y\"; };\n",
	"1: callahead.negative_ttl: bad duration \"1y\": unknown suffix \"y\""
	" (use ms, s, m, h, d or w)"},
	{"bad socket", "policyd = {\n  listen = \"inet:::1:25\";\n};\n",
	"2: policyd.listen: bad socket \"inet:::1:25\": an IPv6 address must be in brackets"
	" (inet:[::1]:25)"},
	{"socket missing port", "milter = { spamd = \"inet:127.0.0.1\"; };\n",
	"1: milter.spamd: bad socket \"inet:127.0.0.1\": missing port (inet:HOST:PORT)"},
	{"socket required", "milter = { listen = \"\"; };\n",
	"1: milter.listen: must not be empty (use inet:HOST:PORT or unix:/PATH)"},
	{"bad dns server", "dns = {\n  servers = [\"127.0.0.1\",\n    \"ns.example.com\"];\n};\n",
	"3: dns.servers: bad DNS server \"ns.example.com\": not an IP address"
	" (a DNS server is given by address)"},
	{"bad dns port", "dns = { servers = [\"127.0.0.1@99999\"]; };\n",
	"1: dns.servers: bad DNS server \"127.0.0.1@99999\": port after @ must be a number 1..65535"},
	{"bad sentinel", "redis = { sentinel = { master = \"m\"; servers = [\"a.example:0\"]; }; };\n",
	"1: redis.sentinel.servers: bad host:port \"a.example:0\": port must be a number 1..65535"},
	{"bad enum", "defaults = {\n  discard_action = \"bounce\";\n};\n",
	"2: defaults.discard_action: bad value \"bounce\" (use discard or reject)"},
	{"bad enum backend", "policyd = { on_backend_error = \"DEFER\"; };\n",
	"1: policyd.on_backend_error: bad value \"DEFER\" (use defer or dunno)"},
	{"bad host name", "node = { hostnames = [\"mx1.example.com\", \"mx_2.example.com\"]; };\n",
	"1: node.hostnames: \"mx_2.example.com\" is not a valid host name"},
	{"address as host name", "node = { hostnames = [\"192.0.2.1\"]; };\n",
	"1: node.hostnames: \"192.0.2.1\" is not a valid host name"},
	{"bad helo", "callahead = { helo = \"[192.0.2.1]\"; };\n",
	"1: callahead.helo: \"[192.0.2.1]\" is not a valid host name"},
	{"bad redis host", "redis = { host = \"redis host\"; };\n",
	"1: redis.host: \"redis host\" is not an IP address or host name"},
	{"empty redis host", "redis = { host = \"\"; };\n", "1: redis.host: must not be empty"},
	{"relative unix", "redis = { unix = \"redis.sock\"; };\n",
	"1: redis.unix: \"redis.sock\" is not an absolute path"},
	{"relative pidfile", "pidfile = \"mh.pid\";\n", "1: pidfile: \"mh.pid\" is not an absolute path"},
	{"quota reply class mismatch", "outbound = { quota_reply = \"452 5.7.1\"; };\n",
	"1: outbound.quota_reply: \"452 5.7.1\" is not \"4XX 4.X.X\" or \"5XX 5.X.X\""
	" (e.g. \"452 4.7.1\")"},
	{"quota reply 2xx", "outbound = { quota_reply = \"250 2.0.0\"; };\n",
	"1: outbound.quota_reply: \"250 2.0.0\" is not \"4XX 4.X.X\" or \"5XX 5.X.X\""
	" (e.g. \"452 4.7.1\")"},
	{"quota reply with text", "outbound = { quota_reply = \"452 4.7.1 Over quota\"; };\n",
	"1: outbound.quota_reply: \"452 4.7.1 Over quota\" is not \"4XX 4.X.X\" or \"5XX 5.X.X\""
	" (e.g. \"452 4.7.1\")"},
	{"quota reply no dsn", "outbound = { quota_reply = \"452\"; };\n",
	"1: outbound.quota_reply: \"452\" is not \"4XX 4.X.X\" or \"5XX 5.X.X\" (e.g. \"452 4.7.1\")"},
	{"bad facility", "syslog_facility = \"mial\";\n",
	"1: syslog_facility: unknown syslog facility \"mial\" (use mail, daemon, user"
	" or local0..local7)"},
	{"bad probe sender", "callahead = { probe_sender = \"<probe@example.com>\"; };\n",
	"1: callahead.probe_sender: \"<probe@example.com>\" is not an address like user@example.com"
	" (write it without <>; empty for the null sender)"},
	{"probe sender without @", "callahead = { probe_sender = \"probe\"; };\n",
	"1: callahead.probe_sender: \"probe\" is not an address like user@example.com"
	" (write it without <>; empty for the null sender)"},
	{"control character", "redis = {\n  password = \"a\\nb\";\n};\n",
	"2: redis.password: control characters are not allowed"},
	{"sentinel master alone", "redis = {\n  sentinel = {\n    master = \"mymaster\";\n  };\n};\n",
	"3: redis.sentinel.master: set, but redis.sentinel.servers is empty"},
	{"sentinel servers alone", "redis = { sentinel = {\n servers = [\"10.0.0.1\"]; }; };\n",
	"2: redis.sentinel.servers: set, but redis.sentinel.master is empty"},
	{"too many list entries",
	"dns = { servers = [\"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\","
	" \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\","
	" \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\","
	" \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\","
	" \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\","
	" \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\", \"127.0.0.1\"]; };\n",
	"1: dns.servers: more than 32 entries"},

	/* libconfig's own errors */
	{"syntax error", "redis = {\n  port = 6379;\n  host = = \"x\";\n};\n", "3: syntax error"},
	{"unquoted string", "user = mhkit;\n", "1: syntax error"},
	{"missing value", "user = ;\n", "1: syntax error"},
	{"unclosed group", "redis = {\n  port = 6379;\n", "3: syntax error"},
	{"duplicate setting", "user = \"a\";\nuser = \"b\";\n", "2: duplicate setting name"},
	{"mixed array", "dns = { servers = [\"127.0.0.1\", 5]; };\n",
	"1: mismatched element type in array"},
};

START_TEST(test_err_cases)
{
	char	path[128];
	char	err[1024];
	char	want[1024];
	struct conf *c = load_text(err_cases[_i].text, path, sizeof(path), err, sizeof(err));

	ck_assert_msg(c == NULL, "%s: accepted", err_cases[_i].label);
	snprintf(want, sizeof(want), "%s:%s", path, err_cases[_i].want);
	ck_assert_msg(strcmp(err, want) == 0, "%s:\n got \"%s\"\nwant \"%s\"", err_cases[_i].label,
		      err, want);
	ck_assert_msg(strchr(err, '\n') == NULL, "%s: newline in error", err_cases[_i].label);
}
END_TEST

START_TEST(test_missing_file)
{
	char	path[128];
	char	err[512];

	snprintf(path, sizeof(path), "%s/nonexistent.conf", tmpdir);
	ck_assert_ptr_null(conf_load(path, err, sizeof(err)));
	snprintf(path + strlen(path), sizeof(path) - strlen(path), ": No such file or directory");
	ck_assert_str_eq(err, path);
}
END_TEST

START_TEST(test_directory)
{
	char	want[128];
	char	err[512];

	ck_assert_ptr_null(conf_load(tmpdir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: Is a directory", tmpdir);
	ck_assert_str_eq(err, want);
}
END_TEST

/* test_missing_include - an @include that cannot be read names the including line */
START_TEST(test_missing_include)
{
	char	path[128];
	char	err[512];
	char	want[256];

	ck_assert_ptr_null(load_text("user = \"x\";\n@include \"/nonexistent/mhkit.inc\"\n",
				     path, sizeof(path), err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: cannot open include file", path);
	ck_assert_str_eq(err, want);
}
END_TEST

/* test_include_error - an error in an included file names that file */
START_TEST(test_include_error)
{
	char	path[128];
	char	ipath[128];
	char	err[512];
	char	text[256];
	char	want[256];

	write_file("inc.conf", "# included\nredis = {\n  port = 0;\n};\n", ipath, sizeof(ipath));
	snprintf(text, sizeof(text), "user = \"x\";\n@include \"%s\"\n", ipath);
	ck_assert_ptr_null(load_text(text, path, sizeof(path), err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:3: redis.port: 0 is out of range 1..65535", ipath);
	ck_assert_str_eq(err, want);
}
END_TEST

/* test_default_path - conf_load(NULL) reads conf_default_path(); missing means defaults */
START_TEST(test_default_path)
{
	char	err[512];
	struct conf *c;

	ck_assert_ptr_nonnull(strstr(conf_default_path(), "/mhkit/mhkit.conf"));
	if (access(conf_default_path(), F_OK) == 0 || errno != ENOENT)
		return;				/* a real installation: not ours to judge */
	c = conf_load(NULL, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	check_defaults(c);
	ck_assert_str_eq(c->path, "");
	conf_free(c);
}
END_TEST

/* test_small_err - a short error buffer holds a cut, terminated line */
START_TEST(test_small_err)
{
	char	path[128];
	char	err[16];

	memset(err, 'x', sizeof(err));
	ck_assert_ptr_null(load_text("foo = 1;\n", path, sizeof(path), err, sizeof(err)));
	ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
	ck_assert_int_eq(strncmp(err, path, sizeof(err) - 1), 0);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite  *s = suite_create("conf");
	TCase  *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_comments_only);
	tcase_add_test(tc, test_full_file);
	tcase_add_test(tc, test_dump_roundtrip);
	tcase_add_test(tc, test_dump_tiny_score);
	tcase_add_test(tc, test_dump_defaults);
	tcase_add_loop_test(tc, test_ok_cases, 0, COUNT(ok_cases));
	tcase_add_loop_test(tc, test_err_cases, 0, COUNT(err_cases));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_directory);
	tcase_add_test(tc, test_missing_include);
	tcase_add_test(tc, test_include_error);
	tcase_add_test(tc, test_default_path);
	tcase_add_test(tc, test_small_err);
	tcase_add_test(tc, test_same_backends);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int	failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
