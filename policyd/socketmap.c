/*
 * socketmap.c - the routing maps Postfix asks over the socketmap protocol.
 *
 *   relay_domains   KEY = a domain: "OK KEY" when it is one of ours
 *                   (relay or backup), NOTFOUND otherwise;
 *   transport_maps  KEY = a domain: "OK smtp:[dest]:port" for a relay
 *                   domain where this node is the most preferred MX (or
 *                   the domain has no MX), "OK smtp:" (deliver by MX) for a
 *                   backup domain or a relay domain with a more preferred
 *                   MX; NOTFOUND for domains not ours.
 * Postfix treats a socketmap as a pattern table, so transport_maps keys
 * are whole recipient addresses (bob@example.com): their domain decides.
 * relay_domains keys are domains; ".parent" keys are NOTFOUND. Other
 * map names are a configuration error: PERM. Redis unavailable: TEMP, so
 * Postfix defers and retries (it never bounces mail because of us).
 *
 * Postfix looks transport_maps up at every delivery attempt, so a dest or
 * port changed with mhlist applies to mail already in the queue.
 *
 * Public functions: socketmap_handle, socketmap_conn_gone.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "decide.h"
#include "log.h"
#include "pmetrics.h"
#include "policyd.h"
#include "socketmap_proto.h"

enum socketmap_map {
	SOCKETMAP_MAP_RELAY_DOMAINS,
	SOCKETMAP_MAP_TRANSPORT
};

struct socketmap_job {
	struct policyd *pd;
	struct conn *conn;
	struct conf *conf;
	enum socketmap_map map;
	struct domain domain;
};

/* socketmap_conn_gone - the client closed while we looked up */
void
socketmap_conn_gone(void *arg)
{
	struct socketmap_job *job = arg;

	job->conn = NULL;
}

/* socketmap_answer - one reply netstring */
static void
socketmap_answer(struct policyd *pd, struct conn *conn, enum socketmap_status status, const char *text)
{
	char	buf[SOCKETMAP_REPLY_MAX];
	int	n;

	pd->lookups++;
	metrics_inc(&pm_socketmap_requests, status);
	if (conn == NULL)
		return;
	if ((n = socketmap_reply_format(buf, sizeof(buf), status, text)) < 0)
		msg_panic("socketmap: unformattable reply \"%s\"", text ? text : "");
	conn_reply(conn, buf, (size_t) n);
}

static void
socketmap_job_free(struct socketmap_job *job)
{
	policyd_job_done(job->pd, job->conf);
	free(job);
}

static void
socketmap_mx_done(int dns_ok, const struct mx_set *set, void *arg)
{
	struct socketmap_job *job = arg;
	const struct conf *conf = job->conf;
	enum mx_status status = MX_STATUS_NONE;
	const char *ours;
	char	route[DOMAIN_NAME_MAX + 32];

	if (dns_ok)
		status = mx_status(set, conf->node_hostnames.items, conf->node_hostnames.count, &ours);
	decide_transport(&job->domain, status, route, sizeof(route));
	if (msg_verbose)
		msg_info("socketmap: transport %s: mx %s: %s", job->domain.name, mx_status_name(status), route);
	socketmap_answer(job->pd, job->conn, SOCKETMAP_OK, route);
	socketmap_job_free(job);
}

static void
socketmap_domain_done(enum store_result res, const struct domain *d, void *arg)
{
	struct socketmap_job *job = arg;

	switch (res) {
	case STORE_ERROR:
		socketmap_answer(job->pd, job->conn, SOCKETMAP_TEMP, "Redis unavailable");
		break;
	case STORE_NOTFOUND:
		socketmap_answer(job->pd, job->conn, SOCKETMAP_NOTFOUND, NULL);
		break;
	case STORE_OK:
		if (job->map == SOCKETMAP_MAP_RELAY_DOMAINS) {
			socketmap_answer(job->pd, job->conn, SOCKETMAP_OK, d->name);
			break;
		}
		/* a relay domain's route depends on where we stand among its MX hosts */
		job->domain = *d;
		if (d->service == DOMAIN_SERVICE_RELAY) {
			lookup_mx(job->pd, d->name, socketmap_mx_done, job);
			return;
		}
		socketmap_mx_done(0, NULL, job);
		return;
	}
	socketmap_job_free(job);
}

/*
 * socketmap_key_domain - the domain a key asks about: transport_maps asks
 * with the whole recipient address (user@domain), relay_domains with the
 * domain (".parent" keys, from parent_domain_matches_subdomains, are not
 * ours). -1 for keys that name no domain of ours.
 */
static int
socketmap_key_domain(enum socketmap_map map, const char *key, char *domain, size_t len)
{
	struct address a;

	if (key[0] == '.')
		return -1;
	if (map == SOCKETMAP_MAP_TRANSPORT && strchr(key, '@')) {
		if (address_parse(key, strlen(key), &a, NULL, 0) < 0 || a.null
		    || address_domain_is_literal(&a))
			return -1;
		key = a.domain;
	} else if (strchr(key, '@')) {
		return -1;
	}
	return address_parse_domain(key, strlen(key), domain, len, NULL, 0);
}

/* socketmap_handle - one complete request */
void
socketmap_handle(struct policyd *pd, struct conn *conn, const struct socketmap_parser *p)
{
	const char *name = socketmap_request_name(p);
	const char *key = socketmap_request_key(p);
	char	domain[DOMAIN_NAME_MAX + 1];
	struct socketmap_job *job;
	enum socketmap_map map;

	if (strcmp(name, "relay_domains") == 0) {
		map = SOCKETMAP_MAP_RELAY_DOMAINS;
	} else if (strcmp(name, "transport_maps") == 0) {
		map = SOCKETMAP_MAP_TRANSPORT;
	} else {
		char	why[128];

		msg_warn("socketmap: %s asked for unknown map \"%.40s\"", conn_peer(conn), name);
		snprintf(why, sizeof(why), "unknown map %.40s (use relay_domains or transport_maps)", name);
		socketmap_answer(pd, conn, SOCKETMAP_PERM, why);
		return;
	}
	if (socketmap_key_domain(map, key, domain, sizeof(domain)) < 0) {
		socketmap_answer(pd, conn, SOCKETMAP_NOTFOUND, NULL);
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL)
		msg_panic("socketmap: out of memory");
	job->pd = pd;
	job->conn = conn;
	job->conf = policyd_job_begin(pd);
	job->map = map;
	conn_set_job(conn, job, socketmap_conn_gone);
	if (lookup_domain(pd, job->conf, domain, socketmap_domain_done, job) < 0) {
		socketmap_answer(pd, conn, SOCKETMAP_TEMP, "Redis unavailable");
		socketmap_job_free(job);
	}
}
