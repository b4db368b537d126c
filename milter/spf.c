/*
 * spf.c - SPF (RFC 7208) for mhmilter: libspf2 evaluates client IP, HELO
 * and MAIL FROM; the DNS underneath is ours.
 *
 * libspf2's own resolver layer reads /etc/resolv.conf and cannot be told
 * which servers to ask, but mhkit promises that all its DNS goes to
 * dns.servers. So this file gives libspf2 a DNS layer of its own
 * (SPF_dns_server_t with our lookup function): each mhmilter thread has a
 * c-ares channel set up as mhpolicyd's (dnsq_channel_init: dns.servers,
 * dns.timeout, no search domains), and a lookup sends one query and polls
 * the channel's sockets until the answer, c-ares's own timeout, or the
 * check's deadline. libmilter runs each SMTP session in its own thread,
 * so waiting here holds up only that session.
 *
 * Bounds: c-ares gives up on a query after dns.timeout; one check's
 * lookups together stop at SPF_DEADLINE_MS (after that every lookup is a
 * temporary error, so the result is temperror); libspf2 counts the DNS
 * mechanisms (10) and MX/PTR names as RFC 7208 4.6.4 says; at most
 * SPF_RR_MAX records of an answer are kept.
 *
 * Answers are parsed from the raw message with libresolv's ns_parserr:
 * records of the asked type in the answer section (a CNAME chain's
 * target's records included); NXDOMAIN is HOST_NOT_FOUND, NOERROR with
 * none is NO_DATA, anything else (SERVFAIL, timeout, garbage) TRY_AGAIN,
 * which libspf2 turns into temperror.
 *
 * libspf2 gives loopback clients (127.0.0.0/8, ::1) a "pass" without a
 * lookup. Its messages go to our log: warnings as warnings, the rest only
 * with -v.
 *
 * Public functions: spf_init, spf_authserv_id, spf_shutdown, spf_check,
 * and the pure spf_rr_parse,
 * spf_result_name and spf_auth_results.
 */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ares.h>
#include <spf2/spf.h>

#include "clock.h"
#include "conf.h"
#include "dnsq_ares.h"
#include "log.h"
#include "spf.h"

#define SPF_RR_MAX	64		/* records of one answer kept */

static SPF_server_t *spf_server;
static const struct conf *spf_conf;
static char spf_authserv[SPF_AUTHSERV_MAX + 1];
static pthread_key_t spf_channel_key;

/* the deadline of this thread's check, CLOCK_MONOTONIC ms */
static _Thread_local int64_t spf_deadline;

/* --- libspf2's messages --------------------------------------------------------- */

static void
spf_log_warning(const char *file, int line, const char *text)
{
	(void) file;
	(void) line;
	msg_warn("spf: %s", text);
}

static void
spf_log_info(const char *file, int line, const char *text)
{
	(void) file;
	(void) line;
	if (msg_verbose)
		msg_info("spf: %s", text);
}

static void __attribute__((noreturn))
spf_log_error(const char *file, int line, const char *text)
{
	msg_panic("libspf2 %s:%d: %s", file, line, text);
}

/* --- the DNS layer ---------------------------------------------------------------- */

static int64_t
spf_now(void)
{
	return (int64_t) clock_mono_ms();
}

/*
 * A thread's channel goes back to a small pool when the thread ends
 * (libmilter ends threads often): the next thread takes it, sparing a
 * channel's setup (and resolv.conf's reading) per message.
 */
#define SPF_CHANNEL_POOL	64

static pthread_mutex_t spf_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static ares_channel spf_pool[SPF_CHANNEL_POOL];
static size_t spf_npool;

static void
spf_channel_free(void *ch)
{
	pthread_mutex_lock(&spf_pool_lock);
	if (spf_npool < SPF_CHANNEL_POOL) {
		spf_pool[spf_npool++] = ch;
		ch = NULL;
	}
	pthread_mutex_unlock(&spf_pool_lock);
	if (ch)
		ares_destroy(ch);
}

/* spf_channel - this thread's channel, made at its first use; NULL when that failed */
static ares_channel
spf_channel(void)
{
	ares_channel ch = pthread_getspecific(spf_channel_key);
	char	err[256];

	if (ch)
		return ch;
	pthread_mutex_lock(&spf_pool_lock);
	if (spf_npool > 0)
		ch = spf_pool[--spf_npool];
	pthread_mutex_unlock(&spf_pool_lock);
	if (ch == NULL && dnsq_channel_init(&ch, spf_conf, NULL, NULL, err, sizeof(err)) < 0) {
		msg_warn("spf: %s", err);
		return NULL;
	}
	if (pthread_setspecific(spf_channel_key, ch) != 0) {
		ares_destroy(ch);
		return NULL;
	}
	return ch;
}

struct spf_answer {
	int	done;
	int	status;			/* ARES_* */
	unsigned char *abuf;
	int	alen;
};

static void
spf_answer_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct spf_answer *a = arg;

	(void) timeouts;
	a->done = 1;
	a->status = status;
	if (status == ARES_SUCCESS && abuf && alen > 0 && (a->abuf = malloc((size_t) alen)) != NULL) {
		memcpy(a->abuf, abuf, (size_t) alen);
		a->alen = alen;
	}
}

/* spf_wait - run the channel until a->done; the deadline cancels the query */
static void
spf_wait(ares_channel ch, struct spf_answer *a)
{
	while (!a->done) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		struct timeval max, tv, *tvp;
		int64_t	left = spf_deadline - spf_now();
		unsigned bits;
		int	n = 0, ms, rc;

		if (left <= 0) {
			ares_cancel(ch);	/* the callback runs: ARES_ECANCELLED */
			break;
		}
		/* c-ares's ARES_GETSOCK_WRITABLE shifts an int by up to 31: tested unsigned here */
		bits = (unsigned) ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short	ev = (short) ((bits & (1u << i) ? POLLIN : 0)
					      | (bits & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0));

			if (ev) {
				pfd[n].fd = socks[i];
				pfd[n].events = ev;
				pfd[n].revents = 0;
				n++;
			}
		}
		max.tv_sec = (time_t) (left / 1000);
		max.tv_usec = (suseconds_t) (left % 1000 * 1000);
		tvp = ares_timeout(ch, &max, &tv);
		ms = (int) (tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
		rc = poll(pfd, (nfds_t) n, ms);
		if (rc < 0 && errno != EINTR) {
			msg_warn("spf: poll: %m");
			ares_cancel(ch);
			break;
		}
		if (rc <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);	/* timeouts */
			continue;
		}
		for (int i = 0; i < n; i++)
			ares_process_fd(ch, pfd[i].revents & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD,
					pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
	}
}

/* spf_rr_put - record idx of rr: len bytes of data; -1 when out of memory */
static int
spf_rr_put(SPF_dns_rr_t *rr, int idx, const void *data, size_t len)
{
	if (SPF_dns_rr_buf_realloc(rr, idx, len) != SPF_E_SUCCESS)
		return -1;
	memcpy(rr->rr[idx], data, len);
	return 0;
}

/* spf_rr_parse - the records of type in a whole answer message (spf.h) */
SPF_dns_rr_t *
spf_rr_parse(SPF_dns_server_t *srv, const char *domain, ns_type type,
	     const unsigned char *msg, int len)
{
	SPF_dns_rr_t *rr;
	ns_msg	h;
	ns_rr	r;
	char	text[NS_MAXDNAME + 1];
	unsigned char buf[65536 + 1];
	uint32_t ttl = UINT32_MAX;
	int	count = 0, n;

	if (ns_initparse(msg, len, &h) < 0)
		return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
	if (ns_msg_getflag(h, ns_f_rcode) == ns_r_nxdomain)
		return SPF_dns_rr_new_init(srv, domain, type, 0, HOST_NOT_FOUND);
	if (ns_msg_getflag(h, ns_f_rcode) != ns_r_noerror)
		return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
	if ((rr = SPF_dns_rr_new_init(srv, domain, type, 0, NETDB_SUCCESS)) == NULL)
		return NULL;
	n = ns_msg_count(h, ns_s_an);
	for (int i = 0; i < n && count < SPF_RR_MAX; i++) {
		const unsigned char *rd, *p, *end;
		size_t	rdlen, k = 0;
		int	rc = 0;

		if (ns_parserr(&h, ns_s_an, i, &r) < 0) {
			SPF_dns_rr_free(rr);
			return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
		}
		if (ns_rr_type(r) != type || ns_rr_class(r) != ns_c_in)
			continue;		/* CNAMEs on the way */
		rd = ns_rr_rdata(r);
		rdlen = ns_rr_rdlen(r);
		switch (type) {
		case ns_t_a:
			if (rdlen != 4)
				continue;
			rc = spf_rr_put(rr, count, rd, sizeof(struct in_addr));
			break;
		case ns_t_aaaa:
			if (rdlen != 16)
				continue;
			rc = spf_rr_put(rr, count, rd, sizeof(struct in6_addr));
			break;
		case ns_t_mx:
		case ns_t_ptr:
			p = type == ns_t_mx ? rd + 2 : rd;
			if (rdlen < (type == ns_t_mx ? 3u : 1u)
			    || ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), p, text, sizeof(text)) < 0)
				continue;
			rc = spf_rr_put(rr, count, text, strlen(text) + 1);
			break;
		case ns_t_txt:
		case ns_t_spf:
			/* the strings of one record, joined (RFC 7208 3.3); a NUL would end it early */
			for (p = rd, end = rd + rdlen; p < end;) {
				size_t	l = *p++;

				if (l > (size_t) (end - p))
					break;
				for (size_t j = 0; j < l; j++)
					buf[k++] = p[j] ? p[j] : '?';
				p += l;
			}
			buf[k] = 0;
			rc = spf_rr_put(rr, count, buf, k + 1);
			break;
		default:
			continue;
		}
		if (rc < 0) {
			SPF_dns_rr_free(rr);
			return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
		}
		if (ns_rr_ttl(r) < ttl)
			ttl = ns_rr_ttl(r);
		count++;
	}
	rr->num_rr = count;
	rr->ttl = count ? (time_t) ttl : 0;
	if (count == 0)
		rr->herrno = NO_DATA;
	return rr;
}

/* spf_dns_lookup - libspf2's lookup: one query through this thread's channel */
static SPF_dns_rr_t *
spf_dns_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type, int should_cache)
{
	struct spf_answer a = {0};
	ares_channel ch;
	SPF_dns_rr_t *rr;

	(void) should_cache;
	if (spf_now() >= spf_deadline) {
		msg_info("spf: %s: no time left for the lookup", domain);
		return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
	}
	if ((ch = spf_channel()) == NULL)
		return SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
	ares_query(ch, domain, ns_c_in, (int) type, spf_answer_cb, &a);
	spf_wait(ch, &a);
	if (a.status == ARES_ENOTFOUND)
		rr = SPF_dns_rr_new_init(srv, domain, type, 0, HOST_NOT_FOUND);
	else if (a.status == ARES_ENODATA)
		rr = SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);
	else if (a.status != ARES_SUCCESS || a.abuf == NULL)
		rr = SPF_dns_rr_new_init(srv, domain, type, 0, TRY_AGAIN);
	else
		rr = spf_rr_parse(srv, domain, type, a.abuf, a.alen);
	if (msg_verbose)
		msg_info("spf: lookup %s type %d: %s, %d record%s", domain, (int) type,
			 a.done ? ares_strerror(a.status) : "gave up", rr ? rr->num_rr : 0,
			 rr && rr->num_rr == 1 ? "" : "s");
	free(a.abuf);
	return rr;
}

static void
spf_dns_destroy(SPF_dns_server_t *srv)
{
	free(srv);
}

/* --- the check ------------------------------------------------------------------- */

static SPF_dns_server_t *spf_dns;	/* the resolver given to libspf2 */

int
spf_init(const struct conf *conf, const char *authserv_id, char *err, size_t errlen)
{
	SPF_dns_server_t *dns;
	int	rc;

	SPF_error_handler = spf_log_error;
	SPF_warning_handler = spf_log_warning;
	SPF_info_handler = spf_log_info;
	SPF_debug_handler = spf_log_info;
	spf_conf = conf;
	snprintf(spf_authserv, sizeof(spf_authserv), "%s", authserv_id);
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "cannot start c-ares: %s", ares_strerror(rc));
		return -1;
	}
	if (pthread_key_create(&spf_channel_key, spf_channel_free) != 0) {
		snprintf(err, errlen, "pthread_key_create failed");
		return -1;
	}
	if ((dns = calloc(1, sizeof(*dns))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	dns->destroy = spf_dns_destroy;	/* libspf2 does not call it for a resolver it was given */
	dns->lookup = spf_dns_lookup;
	dns->name = "mhkit";
	if ((spf_server = SPF_server_new_dns(dns, 0)) == NULL) {
		free(dns);
		snprintf(err, errlen, "cannot start libspf2");
		return -1;
	}
	spf_dns = dns;
	SPF_server_set_rec_dom(spf_server, spf_authserv);
	SPF_server_set_sanitize(spf_server, 1);
	return 0;
}

const char *
spf_authserv_id(void)
{
	return spf_authserv;
}

void
spf_shutdown(void)
{
	if (spf_server)
		SPF_server_free(spf_server);
	spf_server = NULL;
	if (spf_dns)
		spf_dns_destroy(spf_dns);	/* ours: SPF_server_new_dns leaves it to us */
	spf_dns = NULL;
	pthread_mutex_lock(&spf_pool_lock);
	while (spf_npool > 0)
		ares_destroy(spf_pool[--spf_npool]);
	pthread_mutex_unlock(&spf_pool_lock);
}

/* spf_result_of - libspf2's result as ours */
static enum spf_result
spf_result_of(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS:
		return SPF_PASS;
	case SPF_RESULT_FAIL:
		return SPF_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return SPF_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return SPF_NEUTRAL;
	case SPF_RESULT_NONE:
		return SPF_NONE;
	case SPF_RESULT_TEMPERROR:
		return SPF_TEMPERROR;
	default:
		return SPF_PERMERROR;
	}
}

void
spf_check(const char *ip, const char *helo, const char *sender, struct spf_verdict *v)
{
	SPF_request_t *req = NULL;
	SPF_response_t *res = NULL;
	const char *recv;
	struct in6_addr a6;
	struct in_addr a4;
	SPF_errcode_t rc;
	int	ok;

	v->result = SPF_NONE;
	v->received_spf[0] = 0;
	spf_deadline = spf_now() + SPF_DEADLINE_MS;
	if (spf_server == NULL || (req = SPF_request_new(spf_server)) == NULL) {
		v->result = SPF_TEMPERROR;
		goto headers;
	}
	if (inet_pton(AF_INET, ip, &a4) == 1)
		ok = SPF_request_set_ipv4(req, a4) == SPF_E_SUCCESS;
	else if (inet_pton(AF_INET6, ip, &a6) == 1)
		ok = SPF_request_set_ipv6(req, a6) == SPF_E_SUCCESS;
	else
		ok = 0;
	if (!ok) {
		v->result = SPF_NONE;	/* no client IP (a unix socket): nothing to check */
		goto headers;
	}
	if (helo[0])
		SPF_request_set_helo_dom(req, helo);
	if (sender[0] ? SPF_request_set_env_from(req, sender) != 0 : helo[0] == 0) {
		v->result = SPF_PERMERROR;	/* no identity to check */
		goto headers;
	}
	if (!sender[0])
		SPF_request_set_env_from(req, helo);	/* postmaster@HELO (RFC 7208 2.4) */
	rc = SPF_request_query_mailfrom(req, &res);
	if (res == NULL) {
		v->result = SPF_TEMPERROR;
		goto headers;
	}
	/*
	 * libspf2 1.2.10 leaves the result unset when the record itself could
	 * not be fetched; its return value says why (a DNS error: temperror)
	 */
	if (SPF_response_result(res) == SPF_RESULT_INVALID)
		v->result = rc == SPF_E_DNS_ERROR ? SPF_TEMPERROR : SPF_PERMERROR;
	else
		v->result = spf_result_of(SPF_response_result(res));
	if (msg_verbose)
		msg_info("spf: libspf2: result %d, %s", (int) SPF_response_result(res), SPF_strerror(rc));
	recv = SPF_response_get_received_spf_value(res);
	if (recv && strlen(recv) <= SPF_HEADER_MAX && strpbrk(recv, "\r\n") == NULL)
		snprintf(v->received_spf, sizeof(v->received_spf), "%s", recv);
headers:
	if (v->received_spf[0] == 0)
		snprintf(v->received_spf, sizeof(v->received_spf), "%s (%s) client-ip=%s;",
			 spf_result_name(v->result), spf_authserv, ip[0] ? ip : "unknown");
	if (spf_auth_results(v->auth_results, sizeof(v->auth_results), spf_authserv, v->result,
			     sender, helo) < 0)
		snprintf(v->auth_results, sizeof(v->auth_results), "%s; spf=%s", spf_authserv,
			 spf_result_name(v->result));
	if (res)
		SPF_response_free(res);
	if (req)
		SPF_request_free(req);
}

/* --- pure -------------------------------------------------------------------------- */

const char *
spf_result_name(enum spf_result r)
{
	static const char *const names[] = {
		[SPF_NONE] = "none", [SPF_NEUTRAL] = "neutral", [SPF_PASS] = "pass",
		[SPF_FAIL] = "fail", [SPF_SOFTFAIL] = "softfail", [SPF_TEMPERROR] = "temperror",
		[SPF_PERMERROR] = "permerror",
	};

	return (unsigned) r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

/* spf_plain - can s stand unquoted as an RFC 8601 pvalue (dot-atom[@domain])? */
static int
spf_plain(const char *s)
{
	int	at = 0;

	if (*s == 0)
		return 0;
	for (; *s; s++) {
		if (*s == '@') {
			if (at++)
				return 0;
			continue;
		}
		if (*s <= ' ' || *s >= 127 || strchr("()<>,;:\\\"/[]?=", *s))
			return 0;
	}
	return 1;
}

int
spf_auth_results(char *buf, size_t len, const char *authserv_id, enum spf_result r,
		 const char *sender, const char *helo)
{
	const char *prop = sender[0] ? "smtp.mailfrom" : "smtp.helo";
	const char *val = sender[0] ? sender : helo;
	size_t	n;
	int	w;

	if (val[0] == 0) {
		w = snprintf(buf, len, "%s; spf=%s", authserv_id, spf_result_name(r));
		return w < 0 || (size_t) w >= len ? -1 : 0;
	}
	if (spf_plain(val)) {
		w = snprintf(buf, len, "%s; spf=%s %s=%s", authserv_id, spf_result_name(r), prop, val);
		return w < 0 || (size_t) w >= len ? -1 : 0;
	}
	/* a quoted-string: '"' and '\' escaped, anything unprintable dropped */
	w = snprintf(buf, len, "%s; spf=%s %s=\"", authserv_id, spf_result_name(r), prop);
	if (w < 0 || (size_t) w >= len)
		return -1;
	n = (size_t) w;
	for (const char *p = val; *p; p++) {
		if ((unsigned char) *p < ' ' || (unsigned char) *p >= 127)
			continue;
		if (*p == '"' || *p == '\\') {
			if (n + 1 >= len)
				return -1;
			buf[n++] = '\\';
		}
		if (n + 1 >= len)
			return -1;
		buf[n++] = *p;
	}
	if (n + 2 >= len)
		return -1;
	buf[n++] = '"';
	buf[n] = 0;
	return 0;
}
