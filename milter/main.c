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
 * filter in a thread of its own: one thread per SMTP connection, each
 * with its own Redis connection (filter.c).
 *
 * Signals are the main thread's: it blocks SIGHUP, SIGTERM and SIGINT
 * before any other thread exists (so every other thread inherits the
 * block), then takes them itself with handlers that wake its loop
 * through a pipe. Left to libmilter, SIGHUP would stop the filter as
 * SIGTERM does: its signal thread waits for the three in sigwait(),
 * which unblocks them for that thread while it waits, so the kernel may
 * hand a signal to it rather than to the main thread (it does whenever
 * the main thread already has one pending: a burst of SIGHUPs stopped
 * the filter). The sigwait() below, which the dynamic linker binds
 * libmilter's call to, never returns: that thread sleeps with the
 * signals blocked and never receives one. SIGHUP re-reads mhkit.conf: a broken file
 * is refused and logged and the old settings stay in force; otherwise
 * each new SMTP connection gets the new settings (a connection keeps the
 * ones it started with), and a change of redis.* makes every Redis
 * connection again. milter.listen, milter.metrics, milter.authserv_id,
 * dns.*, user, pidfile and syslog_facility need a restart (a reload says
 * so when they changed). SIGTERM and SIGINT stop: smfi_stop, the
 * connections in progress end first. Everything a domain sets lives in
 * Redis and applies to the next message at once, with no reload.
 *
 * Exit status: 0 after SIGTERM or SIGINT, 64 usage, 69 the socket cannot be
 * opened, 70 libmilter refused the filter's description, 71 libmilter
 * failed, stopped with no stop asked for, or the process could not
 * detach, 78 configuration.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "confref.h"
#include "daemon.h"
#include "endpoint.h"
#include "log.h"
#include "mcache.h"
#include "metrics.h"
#include "milter.h"
#include "mmetrics.h"
#include "spf.h"

#define MILTER_CONNSTR_MAX	(ENDPOINT_FORMAT_MAX + ENDPOINT_PATH_MAX + 16)
#define MILTER_TIMEOUT_S	300	/* libmilter's wait for the MTA (its default: 7210 s) */

/*
 * The configurations alive (common/confref.c): the one in force and
 * those still held by connections that began before a reload; the
 * start-up one is held too (SPF's resolver settings and the listener are
 * read from it).
 */

/* milter_conf_hold - the settings in force, held */
const struct conf *
milter_conf_hold(void)
{
	return confref_current();
}

/* milter_conf_release - let go of what milter_conf_hold gave */
void
milter_conf_release(const struct conf *conf)
{
	confref_release(conf);
}

/* milter_restart_only - log each setting that changed and needs a restart */
static void
milter_restart_only(const struct conf *old, const struct conf *new)
{
	char	a[ENDPOINT_FORMAT_MAX + ENDPOINT_PATH_MAX], b[sizeof(a)];

	endpoint_format(&old->milter_listen, a, sizeof(a));
	endpoint_format(&new->milter_listen, b, sizeof(b));
	if (strcmp(a, b))
		msg_warn("reload: milter.listen changed: takes effect at a restart");
	endpoint_format(&old->milter_metrics, a, sizeof(a));
	endpoint_format(&new->milter_metrics, b, sizeof(b));
	if (strcmp(a, b))
		msg_warn("reload: milter.metrics changed: takes effect at a restart");
	if (strcmp(old->milter_authserv_id, new->milter_authserv_id))
		msg_warn("reload: milter.authserv_id changed: takes effect at a restart");
	if (!conf_same_dns(old, new))
		msg_warn("reload: dns.* changed: takes effect at a restart (SPF's resolver)");
	if (old->milter_cache_size != new->milter_cache_size)
		msg_warn("reload: milter.cache_size changed: takes effect at a restart");
	if (strcmp(old->user, new->user))
		msg_warn("reload: user changed: takes effect at a restart");
	if (strcmp(old->pidfile, new->pidfile))
		msg_warn("reload: pidfile changed: takes effect at a restart");
	if (strcmp(old->syslog_facility, new->syslog_facility))
		msg_warn("reload: syslog_facility changed: takes effect at a restart");
}

/* milter_reload - SIGHUP: the file read again; a broken one changes nothing */
static void
milter_reload(const char *path)
{
	char	err[1200];
	struct conf *conf = conf_load(path, err, sizeof(err));
	const struct conf *old;
	int	same_redis;

	if (conf == NULL) {
		msg_error("reload refused, old settings stay in force: %s", err);
		return;
	}
	old = milter_conf_hold();
	milter_restart_only(old, conf);
	same_redis = conf_same_redis(old, conf);
	milter_conf_release(old);
	if (confref_install(conf) < 0) {
		msg_error("reload refused: too many configurations still in use");
		conf_free(conf);
		return;
	}
	if (!same_redis)
		milter_threads_redis_changed();
	mcache_reload(!same_redis);
	msg_info("reloaded %s", conf->path);
}

/* --- signals: the main thread's --------------------------------------------------- */

/*
 * sigwait - called only by libmilter's signal thread (mhmilter itself
 * never waits for signals this way): instead of waiting for SIGHUP,
 * SIGTERM or SIGINT to stop the filter with, sleep for good, with them
 * blocked (see the top of this file). An executable's definition comes
 * before libc's in the dynamic linker's lookup.
 */
int
sigwait(const sigset_t *set, int *sig)
{
	(void) set;
	(void) sig;
	for (;;)
		pause();
}

static int milter_sigpipe[2] = {-1, -1};

/* milter_on_signal - to the main loop, through the pipe (async-signal-safe) */
static void
milter_on_signal(int sig)
{
	char	c = (char) sig;
	int	saved = errno;

	if (write(milter_sigpipe[1], &c, 1) < 0) {
		/* full (64 KB of signals unread): this one is dropped */
	}
	errno = saved;
}

/* the filter's thread: libmilter's smfi_main, and a wake-up for the main loop when it returns */
static int milter_smfi_rc;

static void *
milter_smfi_thread(void *arg)
{
	char	c = 0;

	(void) arg;
	milter_smfi_rc = smfi_main();
	while (write(milter_sigpipe[1], &c, 1) < 0 && errno == EAGAIN)
		usleep(10000);			/* full of signals: this one must get through */
	return NULL;
}

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
	int	foreground = 0, verbose = 0, ch, stopping = 0;
	struct metrics_server *metrics = NULL;
	struct conf *conf;
	const struct conf *held;
	sigset_t sigs;
	struct sigaction sa;
	pthread_t smfi;
	char	sig;
	ssize_t	n;

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
	if ((conf = conf_load(path, err, sizeof(err))) == NULL)
		msg_fatal(EX_CONFIG, "%s", err);
	if (milter_connstr(&conf->milter_listen, conn, sizeof(conn)) < 0)
		msg_fatal(EX_CONFIG, "%s: milter.listen: not a socket mhmilter can listen on", path);
	endpoint_format(&conf->milter_listen, shown, sizeof(shown));
	signal(SIGPIPE, SIG_IGN);

	mmetrics_wrap(&milter_desc);	/* before libmilter copies it */
	if (smfi_setconn(conn) != MI_SUCCESS || smfi_settimeout(MILTER_TIMEOUT_S) != MI_SUCCESS
	    || smfi_register(milter_desc) != MI_SUCCESS)
		msg_fatal(EX_SOFTWARE, "libmilter refused the filter's description");
	if (smfi_opensocket(conf->milter_listen.kind == ENDPOINT_UNIX) != MI_SUCCESS)
		msg_fatal(EX_UNAVAILABLE, "cannot listen on %s", shown);
	if (conf->milter_metrics.kind != ENDPOINT_NONE
	    && (metrics = metrics_listen(&conf->milter_metrics, &mmetrics_set, err, sizeof(err))) == NULL)
		msg_fatal(EX_UNAVAILABLE, "milter.metrics: %s", err);
	/* libmilter leaves the socket to the umask (root's 0755): Postfix's user must connect */
	if (conf->milter_listen.kind == ENDPOINT_UNIX
	    && chmod(conf->milter_listen.path, 0666) < 0)
		msg_fatal(EX_OSERR, "%s: chmod: %s", shown, strerror(errno));
	if (!foreground) {
		if (daemon(0, 0) < 0)
			msg_fatal(EX_OSERR, "cannot detach: %s", strerror(errno));
		log_open("mhmilter", 0, conf->syslog_facility);
	}
	/* before any other thread: they all inherit these blocked (see the top) */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0 || pipe2(milter_sigpipe, O_CLOEXEC) < 0
	    || fcntl(milter_sigpipe[1], F_SETFL, O_NONBLOCK) < 0)
		msg_fatal(EX_OSERR, "cannot set up the signals: %s", strerror(errno));
	if (confref_install(conf) < 0)
		msg_panic("confref_install failed at start");
	held = milter_conf_hold();		/* the start-up settings: SPF's resolver reads them */
	daemon_pidfile_write(conf);
	daemon_drop_privileges(conf);
	milter_threads_init();
	mcache_start(conf);
	milter_authserv(conf, authserv, sizeof(authserv));
	if (spf_init(conf, authserv, err, sizeof(err)) < 0)
		msg_fatal(EX_SOFTWARE, "SPF: %s", err);
	if (metrics && metrics_start(metrics, err, sizeof(err)) < 0)
		msg_fatal(EX_OSERR, "milter.metrics: %s", err);
	msg_info("ready: milter %s, redis %s", shown, conf->redis_unix[0]
		 ? conf->redis_unix : conf->redis_host);

	if (pthread_create(&smfi, NULL, milter_smfi_thread, NULL) != 0)
		msg_fatal(EX_OSERR, "cannot start the filter's thread");
	/* the signals are this thread's only: handlers, then unblocked here */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = milter_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGHUP, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0
	    || sigaction(SIGINT, &sa, NULL) < 0 || pthread_sigmask(SIG_UNBLOCK, &sigs, NULL) != 0)
		msg_fatal(EX_OSERR, "cannot take the signals: %s", strerror(errno));
	for (;;) {
		if ((n = read(milter_sigpipe[0], &sig, 1)) < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			msg_fatal(EX_OSERR, "signal pipe: %s", n < 0 ? strerror(errno) : "closed");
		if (sig == SIGHUP && !stopping) {
			milter_reload(path);
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = 1;
			msg_info("stopping: connections in progress end first");
			smfi_stop();
		} else if (sig == 0) {		/* smfi_main returned */
			break;
		}
	}
	pthread_join(smfi, NULL);
	metrics_stop(metrics);
	if (!stopping)
		msg_error("libmilter stopped with no stop asked for (status %d)", milter_smfi_rc);
	msg_info("stopped");
	mcache_stop();
	milter_threads_end();
	spf_shutdown();
	daemon_pidfile_remove();
	milter_conf_release(held);
	confref_uninstall();			/* in force no more */
	log_close();
	return !stopping || milter_smfi_rc != MI_SUCCESS ? EX_OSERR : 0;
}
