/*
 * main.c - mhmilter: the libmilter filter of the relay and backup-MX
 * roles (SPEC "Who enforces what": user lists, sender lists, size, spam,
 * virus and SPF). See doc/mhmilter.md.
 *
 *	mhmilter [-c FILE] [-f] [-v] [-V]
 *
 * Start: load mhkit.conf (errors: exit 78 naming file, line and setting),
 * open the milter.listen socket (and milter.metrics, served later by a
 * thread of its own: common/metrics.c, milter/mmetrics.c) while still
 * root, drop to `user`, detach
 * unless -f, write the pidfile, then libmilter's smfi_main runs the
 * filter: one thread per SMTP connection, each with its own Redis
 * connection (filter.c). libmilter handles SIGTERM and SIGINT (stop:
 * connections in progress end first) and SIGHUP (it reopens its socket;
 * mhkit.conf is read at start only - restart to change it; everything a
 * domain sets lives in Redis and applies to the next message at once).
 *
 * Exit status: 0 after a signal, 64 usage, 69 the socket cannot be
 * opened, 70 libmilter refused the filter's description, 71 libmilter
 * failed or the process could not detach, 78 configuration.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "endpoint.h"
#include "log.h"
#include "metrics.h"
#include "milter.h"
#include "mmetrics.h"
#include "spf.h"

#define MILTER_CONNSTR_MAX	(ENDPOINT_FORMAT_MAX + ENDPOINT_PATH_MAX + 16)
#define MILTER_TIMEOUT_S	300	/* libmilter's wait for the MTA (its default: 7210 s) */

struct conf *milter_conf;

/* milter_connstr - endpoint to libmilter's socket string */
int
milter_connstr(const struct endpoint *ep, char *out, size_t outlen)
{
	int	n;

	switch (ep->kind) {
	case ENDPOINT_INET:
		n = snprintf(out, outlen, "%s:%u@%s", strchr(ep->host, ':') ? "inet6" : "inet",
			     ep->port, ep->host);
		break;
	case ENDPOINT_UNIX:
		n = snprintf(out, outlen, "unix:%s", ep->path);
		break;
	default:
		return -1;
	}
	return n < 0 || (size_t) n >= outlen ? -1 : 0;
}

/* milter_authserv - milter.authserv_id, else the first node.hostnames, else this host's name */
static void
milter_authserv(const struct conf *conf, char *out, size_t outlen)
{
	if (conf->milter_authserv_id[0])
		snprintf(out, outlen, "%s", conf->milter_authserv_id);
	else if (conf->node_hostnames.count)
		snprintf(out, outlen, "%s", conf->node_hostnames.items[0]);
	else if (gethostname(out, outlen) < 0 || memchr(out, 0, outlen) == NULL || out[0] == 0)
		snprintf(out, outlen, "localhost");
}

static void
milter_usage(void)
{
	fprintf(stderr, "usage: mhmilter [-c FILE] [-f] [-v] [-V]\n");
	exit(EX_USAGE);
}

int
main(int argc, char **argv)
{
	const char *path = conf_default_path();
	char	err[1200], conn[MILTER_CONNSTR_MAX], shown[ENDPOINT_FORMAT_MAX + ENDPOINT_PATH_MAX];
	char	authserv[ENDPOINT_HOST_MAX + 1];
	int	foreground = 0, verbose = 0, ch, rc;
	struct metrics_server *metrics = NULL;

	while ((ch = getopt(argc, argv, "c:fvV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("mhmilter (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default:
			milter_usage();
		}
	}
	if (optind != argc)
		milter_usage();
	log_open("mhmilter", 1, NULL);
	log_set_verbose(verbose);
	if ((milter_conf = conf_load(path, err, sizeof(err))) == NULL)
		msg_fatal(EX_CONFIG, "%s", err);
	if (milter_connstr(&milter_conf->milter_listen, conn, sizeof(conn)) < 0)
		msg_fatal(EX_CONFIG, "%s: milter.listen: not a socket mhmilter can listen on", path);
	endpoint_format(&milter_conf->milter_listen, shown, sizeof(shown));
	signal(SIGPIPE, SIG_IGN);

	mmetrics_wrap(&milter_desc);	/* before libmilter copies it */
	if (smfi_setconn(conn) != MI_SUCCESS || smfi_settimeout(MILTER_TIMEOUT_S) != MI_SUCCESS
	    || smfi_register(milter_desc) != MI_SUCCESS)
		msg_fatal(EX_SOFTWARE, "libmilter refused the filter's description");
	if (smfi_opensocket(milter_conf->milter_listen.kind == ENDPOINT_UNIX) != MI_SUCCESS)
		msg_fatal(EX_UNAVAILABLE, "cannot listen on %s", shown);
	if (milter_conf->milter_metrics.kind != ENDPOINT_NONE
	    && (metrics = metrics_listen(&milter_conf->milter_metrics, &mmetrics_set, err, sizeof(err))) == NULL)
		msg_fatal(EX_UNAVAILABLE, "milter.metrics: %s", err);
	/* libmilter leaves the socket to the umask (root's 0755): Postfix's user must connect */
	if (milter_conf->milter_listen.kind == ENDPOINT_UNIX
	    && chmod(milter_conf->milter_listen.path, 0666) < 0)
		msg_fatal(EX_OSERR, "%s: chmod: %s", shown, strerror(errno));
	if (!foreground) {
		if (daemon(0, 0) < 0)
			msg_fatal(EX_OSERR, "cannot detach: %s", strerror(errno));
		log_open("mhmilter", 0, milter_conf->syslog_facility);
	}
	daemon_pidfile_write(milter_conf);
	daemon_drop_privileges(milter_conf);
	milter_threads_init();
	milter_authserv(milter_conf, authserv, sizeof(authserv));
	if (spf_init(milter_conf, authserv, err, sizeof(err)) < 0)
		msg_fatal(EX_SOFTWARE, "SPF: %s", err);
	if (metrics && metrics_start(metrics, err, sizeof(err)) < 0)
		msg_fatal(EX_OSERR, "milter.metrics: %s", err);
	msg_info("ready: milter %s, redis %s", shown, milter_conf->redis_unix[0]
		 ? milter_conf->redis_unix : milter_conf->redis_host);

	rc = smfi_main();
	metrics_stop(metrics);

	msg_info("stopped");
	milter_threads_end();
	spf_shutdown();
	daemon_pidfile_remove();
	conf_free(milter_conf);
	log_close();
	return rc == MI_SUCCESS ? 0 : EX_OSERR;
}
