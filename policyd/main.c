/*
 * main.c - mhpolicyd: the Postfix policy server and routing socketmap.
 *
 *	mhpolicyd [-c FILE] [-f] [-v...] [-V]
 *
 * Reads mhkit.conf (exit 78 on any error in it), binds policyd.listen
 * and policyd.socketmap, detaches (without -f), writes `pidfile`, drops
 * to `user` (when set),
 * and serves both protocols on one libevent loop, with one asynchronous
 * Redis connection and one c-ares resolver. policyd.metrics, when set,
 * is bound with the listeners and served by a thread of its own
 * (common/metrics.c, policyd/pmetrics.c). Without -f it detaches and
 * logs to syslog (syslog_facility, default mail); with -f it stays in
 * the foreground and logs to stderr.
 *
 * Signals: SIGHUP re-reads the configuration; a broken file is refused,
 * logged, and the old settings stay in force. Settings of redis.* and
 * dns.* take effect on a reload (new connections are made); listener
 * addresses and `user` need a restart. SIGTERM/SIGINT stop listening,
 * close idle connections, let the requests in hand finish (at most
 * POLICYD_DRAIN_SECONDS) and exit 0.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "aredis.h"
#include "commitq.h"
#include "lcache.h"
#include "conf.h"
#include "confref.h"
#include "daemon.h"
#include "dnsq.h"
#include "log.h"
#include "metrics.h"
#include "pmetrics.h"
#include "policyd.h"

#define POLICYD_DRAIN_SECONDS	10	/* SIGTERM: longest wait for requests in hand */

/* policyd_conf_track - start counting references to a new conf (common/confref.c) */
static int
policyd_conf_track(struct conf *conf)
{
	return confref_track(conf);
}

/* policyd_job_begin - a job keeps the conf in force when it starts */
struct conf *
policyd_job_begin(struct policyd *pd)
{
	confref_hold(pd->conf);
	pd->jobs++;
	return pd->conf;
}

/* policyd_idle - no connection and no job left */
int
policyd_idle(const struct policyd *pd)
{
	return pd->nconns == 0 && pd->jobs == 0;
}

/* policyd_job_done - the job ended */
void
policyd_job_done(struct policyd *pd, struct conf *conf)
{
	pd->jobs--;
	policyd_conf_release(conf);
	if (pd->draining && policyd_idle(pd))
		event_base_loopexit(pd->base, NULL);
}

/* policyd_conf_release - the last one out frees it */
void
policyd_conf_release(struct conf *conf)
{
	confref_release(conf);
}

static const char *policyd_conf_path;

/* policyd_reload - SIGHUP */
static void
policyd_reload(struct policyd *pd)
{
	char	err[1200];
	struct conf *conf = conf_load(policyd_conf_path, err, sizeof(err));
	struct dnsq *dns;

	if (conf == NULL) {
		msg_error("reload refused, old settings stay in force: %s", err);
		return;
	}
	if (policyd_conf_track(conf) < 0) {
		msg_error("reload refused: too many configurations still in use");
		conf_free(conf);
		return;
	}
	/* only a backend whose settings changed is replaced: the other keeps its connection */
	if (!conf_same_dns(pd->conf, conf)) {
		if ((dns = dnsq_new(pd->base, conf, err, sizeof(err))) == NULL) {
			msg_error("reload refused, old settings stay in force: dns: %s", err);
			policyd_conf_release(conf);
			return;
		}
		dnsq_free(pd->dns);
		pd->dns = dns;
	}
	if (!conf_same_redis(pd->conf, conf)) {
		aredis_free(pd->redis);	/* every command in flight is answered (failed) */
		pd->redis = aredis_new(pd->base, conf);
		lcache_reload(pd, conf, 1);
	} else {
		lcache_reload(pd, conf, 0);
	}
	policyd_conf_release(pd->conf);
	pd->conf = conf;
	msg_info("reloaded %s", conf->path);
}

static void
policyd_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct policyd *pd = arg;

	(void) what;
	if (sig == SIGHUP) {
		policyd_reload(pd);
		return;
	}
	if (pd->draining)
		return;
	msg_info("stopping on signal %d: %zu connections to finish", (int) sig, pd->nconns);
	pd->draining = 1;
	server_drain(pd);
	{
		struct timeval tv = {POLICYD_DRAIN_SECONDS, 0};

		evtimer_add(pd->drain_timer, &tv);
	}
}

static void
policyd_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct policyd *pd = arg;

	(void) fd;
	(void) what;
	msg_warn("stopping: %zu connections still busy after %d s; exiting anyway",
		 pd->nconns, POLICYD_DRAIN_SECONDS);
	event_base_loopexit(pd->base, NULL);
}

static void
policyd_usage(void)
{
	fprintf(stderr, "usage: mhpolicyd [-c FILE] [-f] [-v] [-V]\n");
	exit(EX_USAGE);
}

int
main(int argc, char **argv)
{
	struct policyd pd;
	char	err[1200];
	int	foreground = 0, verbose = 0, ch;
	struct event *sigs[4];
	struct metrics_server *metrics = NULL;
	const int signals[4] = {SIGHUP, SIGTERM, SIGINT, 0};

	while ((ch = getopt(argc, argv, "c:fvV")) != -1) {
		switch (ch) {
		case 'c':
			policyd_conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("mhpolicyd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		default:
			policyd_usage();
		}
	}
	if (optind != argc)
		policyd_usage();
	log_open("mhpolicyd", 1, NULL);
	log_set_verbose(verbose);

	memset(&pd, 0, sizeof(pd));
	if ((pd.conf = conf_load(policyd_conf_path, err, sizeof(err))) == NULL)
		msg_fatal(EX_CONFIG, "%s", err);
	policyd_conf_track(pd.conf);
	signal(SIGPIPE, SIG_IGN);
	if ((pd.base = event_base_new()) == NULL)
		msg_fatal(EX_OSERR, "cannot create the event loop");
	if (server_listen(&pd, err, sizeof(err)) < 0)
		msg_fatal(EX_OSERR, "%s", err);
	if (pd.conf->policyd_metrics.kind != ENDPOINT_NONE
	    && (metrics = metrics_listen(&pd.conf->policyd_metrics, &pmetrics_set, err, sizeof(err))) == NULL)
		msg_fatal(EX_OSERR, "policyd.metrics: %s", err);
	if (!foreground) {
		if (daemon(0, 0) < 0)
			msg_fatal(EX_OSERR, "cannot detach: %s", strerror(errno));
		log_open("mhpolicyd", 0, pd.conf->syslog_facility);
		/* libevent needs a new backend after fork */
		event_reinit(pd.base);
	}
	/* the pidfile is written while we may still write where root can */
	daemon_pidfile_write(pd.conf);
	daemon_drop_privileges(pd.conf);
	if (metrics && metrics_start(metrics, err, sizeof(err)) < 0)
		msg_fatal(EX_OSERR, "policyd.metrics: %s", err);
	if ((pd.dns = dnsq_new(pd.base, pd.conf, err, sizeof(err))) == NULL)
		msg_fatal(EX_CONFIG, "dns: %s", err);
	pd.redis = aredis_new(pd.base, pd.conf);
	lcache_start(&pd);
	pd.drain_timer = evtimer_new(pd.base, policyd_drain_timeout, &pd);
	for (int i = 0; signals[i]; i++) {
		sigs[i] = evsignal_new(pd.base, signals[i], policyd_on_signal, &pd);
		evsignal_add(sigs[i], NULL);
	}
	msg_info("ready: policy %s, socketmap %s, redis %s",
		 pd.conf->policyd_listen.kind ? "on" : "off",
		 pd.conf->policyd_socketmap.kind ? "on" : "off", aredis_address(pd.redis));

	event_base_dispatch(pd.base);

	metrics_stop(metrics);
	msg_info("stopped: %lu policy requests, %lu socketmap lookups answered", pd.requests, pd.lookups);
	if (pd.jobs > 0) {
		/* forced out by the drain timer: jobs still point at the backends */
		log_close();
		return 0;
	}
	for (int i = 0; signals[i]; i++)
		event_free(sigs[i]);
	event_free(pd.drain_timer);
	dnsq_free(pd.dns);
	aredis_free(pd.redis);
	outbound_end(&pd);
	commitq_end(&pd);
	lcache_end(&pd);
	if (pd.policy_listener)
		evconnlistener_free(pd.policy_listener);
	if (pd.socketmap_listener)
		evconnlistener_free(pd.socketmap_listener);
	policyd_conf_release(pd.conf);
	event_base_free(pd.base);
	daemon_pidfile_remove();
	log_close();
	return 0;
}
