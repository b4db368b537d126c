/*
 * filter.c - mhmilter's callbacks: the checks of relay and backup-MX mail
 * that SPEC "Who enforces what" gives the milter.
 *
 * At RCPT, per recipient whose domain is configured (others are not ours
 * to judge: Postfix's reject_unauth_destination decided them), in order:
 *   1. user list on and the local part not listed ->
 *      550 5.1.1 <rcpt>: Recipient address rejected: User unknown
 *   2. sender lists (the domain's, then the global ones; precedence from
 *      common/senderlist.c, the code mhpolicyd uses): blacklisted sender
 *      or client -> 550 5.7.1 <sender>: Sender address rejected: Access
 *      denied; whitelisted -> kept for the spam scan to skip
 *   3. SIZE= announced at MAIL FROM above the domain's max_size ->
 *      552 5.3.4 Message size exceeds fixed limit
 * Per recipient, because lists and limits are per domain: a message to
 * two domains may lose one recipient and keep the other.
 * While the message streams (headers, body): the bytes are counted as they
 * come, nothing is kept; once they pass the largest max_size of its
 * recipients -> 552 5.3.4 at once (never buffered to the end). At the end
 * of the message, a recipient whose own domain's max_size the message
 * passed is removed (smfi_delrcpt) and the others keep it.
 *
 * Virus: when a recipient's domain is a relay domain with `virus on`, the
 * message (headers as "Name: value" CRLF, the empty line, the body)
 * streams to clamd's INSTREAM as libmilter hands it over, from the first
 * header on (clamd.c; at most MILTER_CLAMD_MAX bytes, clamd's default
 * StreamMaxLength; each step bounded by MILTER_SCAN_TIMEOUT_MS). At the
 * end: found -> 554 5.7.1 Message rejected: virus NAME found (the whole
 * message: one copy goes to every recipient); clamd down, slow or failing
 * -> milter.on_scanner_error: accept (logged) or tempfail (451 4.7.1
 * Service unavailable - try again later, Postfix's words). Backup domains
 * and `virus off` domains are not scanned.
 *
 * Spam: the message (as clamd gets it, our own X-Spam-* headers left out)
 * is kept up to milter.spam_max_size for spamd (spamd.c, SYMBOLS) at the
 * end, when a recipient is in a relay domain with `spam on` and the
 * sender and client are not whitelisted for it. Each domain's limits
 * apply to its own recipients: a score at or over a recipient's
 * discard_limit removes it; when none remain the message is discarded,
 * or refused 550 5.7.1 Message rejected as spam when a removed
 * recipient's domain says discard_action = reject. One copy goes to the
 * recipients that remain, so the lowest tag_limit among the scanned ones
 * decides the tagging: X-Spam-Flag: YES, X-Spam-Score, X-Spam-Status: Yes,
 * score=S tag=T discard=D tests=..., the domain's subject_tag before the
 * Subject; under it X-Spam-Status: No, ... . Larger than spam_max_size:
 * not sent, X-Spam-Status: Unchecked, message larger than N bytes.
 * spamd failing -> on_scanner_error (accept: X-Spam-Status: Unchecked).
 * Incoming X-Spam-Flag, X-Spam-Score and X-Spam-Status headers are
 * removed from every message with a configured domain's recipient.
 *
 * Redis, through this thread's own synchronous connection (libmilter runs
 * one thread per SMTP connection; the connection is made at its first
 * use and closed when the thread ends): down, slow (redis.timeout) or
 * answering nonsense -> policyd.on_backend_error: defer (the default)
 * 451 4.3.0 Temporary lookup failure, or dunno (the recipient is
 * accepted unchecked, logged). A change made with mhlist applies to the
 * next lookup: nothing is cached here.
 *
 * Limits: MILTER_RCPT_MAX recipients a message (then 452 4.5.3), names
 * and addresses as common/address.c bounds them. Memory per connection is
 * fixed but for the recipient list.
 *
 * Logging: every reject and defer, Postfix style:
 *   QUEUEID: reject: RCPT from NAME[ADDR]: 550 5.1.1 ...; from=<S> to=<R>
 * a Redis failure as a warning, and with -v each decision.
 *
 * Public: milter_desc, milter_rconn, milter_threads_init, milter_threads_end.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "address.h"
#include "clamd.h"
#include "conf.h"
#include "domain.h"
#include "log.h"
#include "mcache.h"
#include "milter.h"
#include "mmetrics.h"
#include "rconn.h"
#include "reply.h"
#include "senderlist.h"
#include "spamd.h"
#include "spf.h"
#include "store.h"

#define MILTER_RCPT_MAX		1000	/* recipients of one message (Postfix: smtpd_recipient_limit) */
#define MILTER_NAME_MAX		255	/* bytes of a client or HELO name kept */
#define MILTER_IP_MAX		64	/* client address text */
#define MILTER_QID_MAX		32	/* queue ID kept for logs */
#define MILTER_REPLY_ESC_MAX	(2 * REPLY_TEXT_MAX + 1)	/* reply text with '%' doubled */
#define MILTER_SCAN_TIMEOUT_MS	30000	/* each step of a scanner's conversation */
#define MILTER_CLAMD_MAX	(25 * 1024 * 1024)	/* bytes streamed to clamd: its default StreamMaxLength */
#define MILTER_ERR_MAX		300	/* an error phrase */
#define MILTER_SUBJECT_MAX	998	/* bytes of a Subject we tag (one header line, RFC 5322) */
#define MILTER_STATUS_MAX	(SPAMD_TESTS_MAX + 256)	/* an X-Spam-Status value, folded */
#define MILTER_AUTHRES_MAX	32	/* incoming Authentication-Results in our name removed */

/* our own headers: an incoming copy is removed, so nobody can forge them */
static const char *const mlfi_own_headers[] = {"X-Spam-Flag", "X-Spam-Score", "X-Spam-Status"};
#define MILTER_OWN_HEADERS	(sizeof(mlfi_own_headers) / sizeof(mlfi_own_headers[0]))

/* one accepted recipient: what the message stage needs of its domain */
struct mlfi_rcpt {
	char	addr[ADDRESS_TEXT_MAX + 2];	/* as Postfix gave it, for smfi_delrcpt */
	uint64_t max_size;		/* its domain's */
	int	whitelisted;		/* sender or client on a whitelist that applies */
	int	spam;			/* scanned for spam: relay domain, spam on, not whitelisted */
	double	tag_limit, discard_limit;
	enum conf_discard_action discard_action;
	char	subject_tag[DOMAIN_SUBJECT_TAG_MAX + 1];
	int	removed;		/* taken off the message at its end */
};

/* the SMTP connection, and the message in progress on it */
struct mlfi_conn {
	const struct conf *conf;	/* the settings at its connect, held until its close */
	int	noreply;		/* the MTA took MLFI_NOREPLY: those callbacks answer nothing */
	char	client_ip[MILTER_IP_MAX];	/* "" when not IPv4/IPv6 */
	char	client_name[MILTER_NAME_MAX + 1];
	char	helo[MILTER_NAME_MAX + 1];
	/* the message */
	char	qid[MILTER_QID_MAX + 1];
	char	sender_text[ADDRESS_TEXT_MAX + 2];	/* for logs and replies, printable */
	struct address sender;		/* null = 1 for <> or unparseable */
	uint64_t size_announced;	/* SIZE=, 0 when none; UINT64_MAX past any limit */
	struct mlfi_rcpt *rcpts;
	size_t	nrcpts, rcptcap;
	size_t	nothers;		/* recipients not ours to judge (other domains): they keep it */
	uint64_t max_size;		/* the largest max_size of the recipients */
	uint64_t bytes;			/* headers and body seen so far */
	/* virus scan: the message streams to clamd as it comes */
	int	virus_wanted;		/* a recipient's domain scans for viruses */
	struct clamd *scan;		/* open from the first header on */
	int	scan_failed;		/* clamd unreachable or failed: scan_err says why */
	char	scan_err[MILTER_ERR_MAX];
	/* spam scan: the message is kept, up to milter.spam_max_size, for spamd at the end */
	int	spam_wanted;		/* a recipient is scanned for spam */
	int	spam_too_big;		/* larger than milter.spam_max_size: not sent */
	char   *spam_buf;
	size_t	spam_len, spam_cap;
	unsigned own_headers[MILTER_OWN_HEADERS];	/* incoming copies of each, to remove */
	/* SPF: checked at the first recipient whose domain wants it */
	int	spf_wanted;		/* an accepted recipient's domain has spf tag or reject */
	int	spf_done;
	struct spf_verdict spf;
	unsigned authres_seen;		/* Authentication-Results headers so far */
	unsigned authres_ours[MILTER_AUTHRES_MAX];	/* ...the indexes of those in our name */
	size_t	nauthres_ours;
	char	subject[MILTER_SUBJECT_MAX + 1];
	int	subject_seen;		/* 1: kept; 2: too long to tag */
};

/* --- this thread's Redis -------------------------------------------------------- */

/*
 * Each libmilter thread uses one Redis connection, taken at its first
 * need. libmilter makes and ends threads all the time (about one a
 * message under load), so a thread's connection is not closed when the
 * thread ends: it goes back to a small pool for the next thread, which
 * spares a connect (and its setup) for nearly every message.
 */
#define MILTER_RCONN_POOL	64	/* idle connections kept */

/* a connection, the generation of redis.* settings it was made with, its tracking (mcache) */
struct milter_rc {
	struct rconn *rc;
	unsigned gen;
	struct mcache_conn track;
};

static pthread_key_t milter_rconn_key;
static pthread_mutex_t milter_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct milter_rc milter_pool[MILTER_RCONN_POOL];
static size_t milter_npool;
static unsigned milter_pool_gen;	/* raised when a reload changes redis.* */

/* milter_rconn_free - at thread exit: back to the pool, or closed when it is full or stale */
static void
milter_rconn_free(void *arg)
{
	struct milter_rc *m = arg;
	struct rconn *rc = m->rc;

	pthread_mutex_lock(&milter_pool_lock);
	if (milter_npool < MILTER_RCONN_POOL && m->gen == milter_pool_gen) {
		milter_pool[milter_npool++] = *m;
		rc = NULL;
	}
	pthread_mutex_unlock(&milter_pool_lock);
	if (rc)
		rconn_free(rc);
	free(m);
}

/* milter_threads_redis_changed - a reload changed redis.*: connections are made again */
void
milter_threads_redis_changed(void)
{
	struct milter_rc old[MILTER_RCONN_POOL];
	size_t	n;

	pthread_mutex_lock(&milter_pool_lock);
	milter_pool_gen++;
	n = milter_npool;
	memcpy(old, milter_pool, n * sizeof(old[0]));
	milter_npool = 0;
	pthread_mutex_unlock(&milter_pool_lock);
	while (n > 0)
		rconn_free(old[--n].rc);
}

/* milter_threads_init - the key of the per-thread connection */
void
milter_threads_init(void)
{
	if (pthread_key_create(&milter_rconn_key, milter_rconn_free) != 0)
		msg_fatal(71, "pthread_key_create failed");
}

/* milter_threads_end - close the pooled connections (at exit) */
void
milter_threads_end(void)
{
	pthread_mutex_lock(&milter_pool_lock);
	while (milter_npool > 0)
		rconn_free(milter_pool[--milter_npool].rc);
	pthread_mutex_unlock(&milter_pool_lock);
}

/*
 * milter_rconn - this thread's connection: from the pool, or new (with
 * the settings in force), at its first use, and again after a reload
 * that changed redis.*
 */
struct rconn *
milter_rconn(struct mcache_conn **track)
{
	struct milter_rc *m = pthread_getspecific(milter_rconn_key);
	struct rconn *stale = NULL;
	const struct conf *conf;
	unsigned gen;

	pthread_mutex_lock(&milter_pool_lock);
	gen = milter_pool_gen;
	if (m && m->gen != gen) {		/* made before the reload: closed (below) */
		stale = m->rc;
		m->rc = NULL;
	}
	if (m == NULL) {
		if ((m = malloc(sizeof(*m))) == NULL)
			msg_fatal(71, "out of memory");
		m->rc = NULL;
		if (pthread_setspecific(milter_rconn_key, m) != 0)
			msg_panic("pthread_setspecific failed");
	}
	if (m->rc == NULL && milter_npool > 0) {
		*m = milter_pool[--milter_npool];
		gen = m->gen;
	}
	pthread_mutex_unlock(&milter_pool_lock);
	if (stale)
		rconn_free(stale);
	if (m->rc == NULL) {
		conf = milter_conf_hold();
		m->rc = rconn_new(conf);
		milter_conf_release(conf);
		m->gen = gen;
		memset(&m->track, 0, sizeof(m->track));
	}
	*track = &m->track;
	return m->rc;
}

/* --- replies --------------------------------------------------------------------- */

/* mlfi_reply - give Postfix r ("CODE X.Y.Z text"), '%' doubled as libmilter wants */
static sfsistat
mlfi_reply(SMFICTX *ctx, const struct reply *r)
{
	char	code[4], dsn[16], text[MILTER_REPLY_ESC_MAX];
	const char *p = r->text, *sp;
	size_t	n = 0;

	if (strlen(p) < 4 || (sp = strchr(p + 4, ' ')) == NULL || sp - p - 4 >= (long) sizeof(dsn))
		msg_panic("mlfi_reply: malformed reply \"%s\"", p);
	memcpy(code, p, 3);
	code[3] = 0;
	memcpy(dsn, p + 4, (size_t) (sp - p - 4));
	dsn[sp - p - 4] = 0;
	for (p = sp + 1; *p && n + 2 < sizeof(text); p++) {
		if (*p == '%')
			text[n++] = '%';
		text[n++] = *p;
	}
	text[n] = 0;
	if (smfi_setreply(ctx, code, dsn, text) != MI_SUCCESS)
		msg_warn("libmilter refused the reply \"%s\"", r->text);
	return code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

/* mlfi_log - a reject or defer, Postfix style */
static void
mlfi_log(const struct mlfi_conn *c, const char *stage, const struct reply *r, const char *rcpt)
{
	msg_info("%s: %s: %s from %s[%s]: %s; from=<%s>%s%s%s helo=<%s>",
		 c->qid[0] ? c->qid : "NOQUEUE", r->kind == REPLY_REJECT ? "reject" : "defer",
		 stage, c->client_name, c->client_ip[0] ? c->client_ip : "unknown", r->text,
		 c->sender_text, rcpt ? " to=<" : "", rcpt ? rcpt : "", rcpt ? ">" : "", c->helo);
}

/*
 * mlfi_backend_error - Redis failed: policyd.on_backend_error; CONTINUE
 * means accept unchecked (dunno), anything else is the reply's status
 */
static sfsistat
mlfi_backend_error(SMFICTX *ctx, struct mlfi_conn *c, const char *rcpt, const char *why)
{
	struct reply r;

	msg_warn("%s: redis: %s", c->qid[0] ? c->qid : "NOQUEUE", why);
	if (c->conf->policyd_on_backend_error == CONF_BACKEND_DUNNO) {
		msg_info("%s: recipient <%s> accepted unchecked (on_backend_error = dunno)",
			 c->qid[0] ? c->qid : "NOQUEUE", rcpt);
		c->nothers++;		/* not recorded: nothing takes the message from it */
		return SMFIS_CONTINUE;
	}
	reply_set(&r, "451", "4.3.0", "Temporary lookup failure");
	mlfi_log(c, "RCPT", &r, rcpt);
	return mlfi_reply(ctx, &r);
}

/* --- the connection and the message -------------------------------------------- */

/* mlfi_copy - a bounded, printable copy of untrusted text */
static void
mlfi_copy(char *dst, size_t dstlen, const char *src)
{
	log_printable(dst, dstlen, src ? src : "", src ? strnlen(src, dstlen - 1) : 0);
}

/* mlfi_msg_reset - forget the message (a new MAIL FROM, an abort, the end) */
static void
mlfi_msg_reset(struct mlfi_conn *c)
{
	c->qid[0] = 0;
	c->sender_text[0] = 0;
	memset(&c->sender, 0, sizeof(c->sender));
	c->sender.null = 1;
	c->size_announced = 0;
	c->nrcpts = 0;
	c->nothers = 0;
	c->max_size = 0;
	c->bytes = 0;
	if (c->scan)
		clamd_abort(c->scan);
	c->scan = NULL;
	c->virus_wanted = 0;
	c->scan_failed = 0;
	c->scan_err[0] = 0;
	c->spam_wanted = 0;
	c->spam_too_big = 0;
	free(c->spam_buf);
	c->spam_buf = NULL;
	c->spam_len = c->spam_cap = 0;
	memset(c->own_headers, 0, sizeof(c->own_headers));
	c->spf_wanted = 0;
	c->spf_done = 0;
	c->authres_seen = 0;
	c->nauthres_ours = 0;
	c->subject[0] = 0;
	c->subject_seen = 0;
}

/* mlfi_qid - the queue ID macro, when Postfix sent it */
static void
mlfi_qid(SMFICTX *ctx, struct mlfi_conn *c)
{
	const char *i = smfi_getsymval(ctx, "i");

	if (i && *i && c->qid[0] == 0)
		mlfi_copy(c->qid, sizeof(c->qid), i);
}

/* --- protocol options ------------------------------------------------------------- */

/*
 * Callbacks that never refuse anything need not be answered: with these
 * protocol flags (milter protocol 6: Postfix, Sendmail 8.14) the MTA sends
 * HELO, MAIL, each header and the end of the headers without waiting for
 * a reply, which spares a round trip for each. A size limit passed inside
 * the headers is then refused at the first body chunk or the end of the
 * message (mlfi_count), still before the message is accepted. CONNECT is
 * still answered: a connection whose state cannot be allocated is refused
 * there, and the MTA sends nothing more for it.
 */
#define MLFI_NOREPLY	(SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_EOH)
#define MLFI_ACTIONS	(SMFIF_DELRCPT | SMFIF_ADDHDRS | SMFIF_CHGHDRS)

/* the private pointer between mlfi_negotiate and mlfi_connect: MLFI_NOREPLY was taken */
static const char mlfi_noreply_marker;

static sfsistat
mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
	       unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
	       unsigned long *pf3)
{
	(void) f2;
	(void) f3;
	if ((f0 & MLFI_ACTIONS) != MLFI_ACTIONS) {
		msg_warn("the MTA does not offer the actions mhmilter needs (0x%lx of 0x%lx)",
			 f0 & MLFI_ACTIONS, (unsigned long) MLFI_ACTIONS);
		return SMFIS_REJECT;
	}
	*pf0 = MLFI_ACTIONS;
	/* no DATA nor unknown commands: there are no callbacks for them */
	*pf1 = f1 & (SMFIP_NOUNKNOWN | SMFIP_NODATA);
	if ((f1 & MLFI_NOREPLY) == MLFI_NOREPLY) {
		*pf1 |= MLFI_NOREPLY;
		smfi_setpriv(ctx, (void *) &mlfi_noreply_marker);
	}
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

/* mlfi_unanswered - what a callback of MLFI_NOREPLY returns: nothing when the MTA took it */
static sfsistat
mlfi_unanswered(const struct mlfi_conn *c, sfsistat rc)
{
	return c && c->noreply ? SMFIS_NOREPLY : rc;
}

static sfsistat
mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	int	noreply = smfi_getpriv(ctx) == &mlfi_noreply_marker;
	struct mlfi_conn *c = calloc(1, sizeof(*c));

	smfi_setpriv(ctx, NULL);
	if (c == NULL) {
		msg_warn("out of memory: connection refused for now");
		return SMFIS_TEMPFAIL;
	}
	c->noreply = noreply;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) sa)->sin_addr, c->client_ip,
			  sizeof(c->client_ip));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) (void *) sa)->sin6_addr, c->client_ip,
			  sizeof(c->client_ip));
	/* an address in brackets: Postfix found no name; its logs say "unknown" */
	mlfi_copy(c->client_name, sizeof(c->client_name),
		  hostname && hostname[0] != '[' ? hostname : "unknown");
	c->conf = milter_conf_hold();
	mlfi_msg_reset(c);
	smfi_setpriv(ctx, c);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_helo(SMFICTX *ctx, char *helo)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);

	if (c)
		mlfi_copy(c->helo, sizeof(c->helo), helo);
	return mlfi_unanswered(c, SMFIS_CONTINUE);
}

/* mlfi_size_param - the value of SIZE= (ESMTP parameter); UINT64_MAX when too large */
static uint64_t
mlfi_size_param(char **argv)
{
	for (int i = 1; argv[i]; i++) {
		const char *p = argv[i];
		uint64_t n = 0;

		if (strncasecmp(p, "SIZE=", 5) != 0)
			continue;
		for (p += 5; *p >= '0' && *p <= '9'; p++) {
			if (n > (UINT64_MAX - 9) / 10)
				return UINT64_MAX;
			n = n * 10 + (uint64_t) (*p - '0');
		}
		return *p ? 0 : n;	/* malformed: as if none (Postfix checks the syntax) */
	}
	return 0;
}

static sfsistat
mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);
	char	err[128];

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	mlfi_msg_reset(c);
	mlfi_qid(ctx, c);
	if (argv[0] == NULL)
		return mlfi_unanswered(c, SMFIS_CONTINUE);
	if (address_parse(argv[0], strlen(argv[0]), &c->sender, err, sizeof(err)) < 0) {
		memset(&c->sender, 0, sizeof(c->sender));
		c->sender.null = 1;	/* only the client IP is checked against the lists */
	}
	if (c->sender.null)
		c->sender_text[0] = 0;
	else
		address_format(&c->sender, c->sender_text, sizeof(c->sender_text));
	c->size_announced = mlfi_size_param(argv);
	return mlfi_unanswered(c, SMFIS_CONTINUE);
}

/* mlfi_rcpt_add - remember an accepted recipient; -1 when the message has too many */
static int
mlfi_rcpt_add(struct mlfi_conn *c, const char *addr, const struct domain *d, int whitelisted)
{
	struct mlfi_rcpt *r;

	if (c->nrcpts == c->rcptcap) {
		size_t	cap = c->rcptcap ? 2 * c->rcptcap : 8;

		if (c->nrcpts >= MILTER_RCPT_MAX)
			return -1;
		if (cap > MILTER_RCPT_MAX)
			cap = MILTER_RCPT_MAX;
		if ((r = realloc(c->rcpts, cap * sizeof(*r))) == NULL)
			return -1;
		c->rcpts = r;
		c->rcptcap = cap;
	}
	r = &c->rcpts[c->nrcpts++];
	snprintf(r->addr, sizeof(r->addr), "%s", addr);
	r->max_size = d->max_size;
	r->whitelisted = whitelisted;
	r->spam = d->spam && d->service == DOMAIN_SERVICE_RELAY && !whitelisted;
	r->tag_limit = d->tag_limit;
	r->discard_limit = d->discard_limit;
	r->discard_action = d->discard_action;
	memcpy(r->subject_tag, d->subject_tag, sizeof(r->subject_tag));
	r->removed = 0;
	if (r->spam)
		c->spam_wanted = 1;
	if (d->max_size > c->max_size)
		c->max_size = d->max_size;
	return 0;
}

static sfsistat
mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);
	struct address rcpt;
	struct domain d;
	struct store st;
	struct mcache_conn *track;
	struct senderlist_hits hits;
	struct reply r;
	char	err[128], rtext[ADDRESS_TEXT_MAX + 2];
	const char *why = "";
	enum store_result res, ures;
	enum senderlist_verdict verdict;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	mlfi_qid(ctx, c);
	if (argv[0] == NULL || address_parse(argv[0], strlen(argv[0]), &rcpt, err, sizeof(err)) < 0
	    || rcpt.null) {
		c->nothers++;
		return SMFIS_CONTINUE;	/* Postfix has judged its syntax */
	}
	address_format(&rcpt, rtext, sizeof(rtext));
	store_init(&st, milter_rconn(&track), c->conf);

	res = mcache_rcpt_get(&st, track, rcpt.domain, rcpt.local, &c->sender,
			      c->client_ip[0] ? c->client_ip : NULL, &d, &ures, &hits);
	if (res == STORE_NOTFOUND) {
		c->nothers++;
		if (msg_verbose)
			msg_info("%s: <%s>: %s is not a configured domain: not ours to check",
				 c->qid[0] ? c->qid : "NOQUEUE", rtext, rcpt.domain);
		return SMFIS_CONTINUE;
	}
	if (res == STORE_ERROR)
		return mlfi_backend_error(ctx, c, rtext, st.errstr);

	/* 1. the user list */
	if (d.userlist && ures == STORE_NOTFOUND) {
		reply_set(&r, "550", "5.1.1", "<%s>: Recipient address rejected: User unknown", rtext);
		mlfi_log(c, "RCPT", &r, rtext);
		return mlfi_reply(ctx, &r);
	}

	/* 2. the sender lists */
	verdict = senderlist_decide(&hits, &why);
	if (verdict == SENDERLIST_BLACK) {
		reply_set(&r, "550", "5.7.1", "<%s>: Sender address rejected: Access denied",
			  c->sender_text);
		if (msg_verbose)
			msg_info("%s: <%s>: blacklisted by the %s", c->qid[0] ? c->qid : "NOQUEUE",
				 rtext, why);
		mlfi_log(c, "RCPT", &r, rtext);
		return mlfi_reply(ctx, &r);
	}

	/* 3. SPF (relay domains: backup mail is forwarded unprocessed) */
	if (d.spf != DOMAIN_SPF_OFF && d.service == DOMAIN_SERVICE_RELAY) {
		if (!c->spf_done) {
			spf_check(c->client_ip, c->helo, c->sender.null ? "" : c->sender_text, &c->spf);
			c->spf_done = 1;
			mmetrics_spf(c->spf.result);
			msg_info("%s: SPF %s: client %s[%s], helo=<%s>, from=<%s>",
				 c->qid[0] ? c->qid : "NOQUEUE", spf_result_name(c->spf.result),
				 c->client_name, c->client_ip[0] ? c->client_ip : "unknown", c->helo,
				 c->sender_text);
		}
		if (d.spf == DOMAIN_SPF_REJECT && c->spf.result == SPF_FAIL
		    && verdict != SENDERLIST_WHITE) {
			reply_set(&r, "550", "5.7.23", "SPF validation failed");
			mlfi_log(c, "RCPT", &r, rtext);
			return mlfi_reply(ctx, &r);
		}
	}

	/* 4. the size the client announced */
	if (c->size_announced > d.max_size) {
		reply_set(&r, "552", "5.3.4", "Message size exceeds fixed limit");
		mlfi_log(c, "RCPT", &r, rtext);
		return mlfi_reply(ctx, &r);
	}

	if (mlfi_rcpt_add(c, argv[0], &d, verdict == SENDERLIST_WHITE) < 0) {
		reply_set(&r, "452", "4.5.3", "Error: too many recipients");
		mlfi_log(c, "RCPT", &r, rtext);
		return mlfi_reply(ctx, &r);
	}
	if (d.virus && d.service == DOMAIN_SERVICE_RELAY)
		c->virus_wanted = 1;
	if (d.spf != DOMAIN_SPF_OFF && d.service == DOMAIN_SERVICE_RELAY)
		c->spf_wanted = 1;
	if (msg_verbose)
		msg_info("%s: <%s>: accepted (%s; max_size %llu)", c->qid[0] ? c->qid : "NOQUEUE",
			 rtext, verdict == SENDERLIST_WHITE ? why : "not listed",
			 (unsigned long long) d.max_size);
	return SMFIS_CONTINUE;
}

/* mlfi_scan - stream bytes of the message to clamd (opened at the first); a failure is kept for the end */
static void
mlfi_scan(struct mlfi_conn *c, const void *data, size_t len)
{
	if (!c->virus_wanted || c->scan_failed || len == 0)
		return;
	if (c->scan == NULL
	    && (c->scan = mmetrics_clamd_open(&c->conf->milter_clamd, MILTER_SCAN_TIMEOUT_MS,
				     MILTER_CLAMD_MAX, c->scan_err, sizeof(c->scan_err))) == NULL) {
		c->scan_failed = 1;
		return;
	}
	if (mmetrics_clamd_write(c->scan, data, len, c->scan_err, sizeof(c->scan_err)) < 0) {
		clamd_abort(c->scan);
		c->scan = NULL;
		c->scan_failed = 1;
	}
}

/* mlfi_keep - keep bytes of the message for spamd, up to milter.spam_max_size */
static void
mlfi_keep(struct mlfi_conn *c, const void *data, size_t len)
{
	size_t	max = (size_t) c->conf->milter_spam_max_size;
	char   *p;

	if (!c->spam_wanted || c->spam_too_big || len == 0)
		return;
	if (len > max - c->spam_len) {
		c->spam_too_big = 1;
		free(c->spam_buf);
		c->spam_buf = NULL;
		c->spam_len = c->spam_cap = 0;
		return;
	}
	if (c->spam_len + len > c->spam_cap) {
		size_t	cap = c->spam_cap ? c->spam_cap : 16384;

		while (cap < c->spam_len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		if ((p = realloc(c->spam_buf, cap)) == NULL) {
			msg_warn("out of memory keeping a message for spamd: not scanned");
			c->spam_too_big = 1;
			return;
		}
		c->spam_buf = p;
		c->spam_cap = cap;
	}
	memcpy(c->spam_buf + c->spam_len, data, len);
	c->spam_len += len;
}

/*
 * mlfi_keep_received - the Received line Postfix adds is not shown to
 * milters: one like it goes first to spamd, so that SpamAssassin sees
 * where the message came from (its relay rules, trusted_networks), as
 * spamass-milter does
 */
static void
mlfi_keep_received(struct mlfi_conn *c)
{
	char	line[MILTER_NAME_MAX * 2 + MILTER_IP_MAX + MILTER_QID_MAX + 160], date[64];
	struct tm tm;
	time_t	now = time(NULL);
	int	n;

	if (localtime_r(&now, &tm) == NULL
	    || strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		date[0] = 0;
	n = snprintf(line, sizeof(line),
		     "Received: from %s (%s [%s])\r\n\tby %s (mhmilter) id %s;\r\n\t%s\r\n",
		     c->helo[0] ? c->helo : "unknown", c->client_name,
		     c->client_ip[0] ? c->client_ip : "127.0.0.1",
		     c->conf->node_hostnames.count ? c->conf->node_hostnames.items[0] : "localhost",
		     c->qid[0] ? c->qid : "NOQUEUE", date);
	if (n > 0 && (size_t) n < sizeof(line))
		mlfi_keep(c, line, (size_t) n);
}

/* mlfi_feed - bytes of the message, to each scanner that wants them */
static void
mlfi_feed(struct mlfi_conn *c, const void *data, size_t len)
{
	mlfi_scan(c, data, len);
	mlfi_keep(c, data, len);
}

/* mlfi_add - n more bytes of the message (saturating) */
static void
mlfi_add(struct mlfi_conn *c, uint64_t n)
{
	c->bytes = c->bytes + n < c->bytes ? UINT64_MAX : c->bytes + n;
}

/*
 * mlfi_count - bytes of the message so far; past every recipient's limit:
 * 552 now (a callback of MLFI_NOREPLY that the MTA took: at the next one
 * answered, which counts 0 more bytes)
 */
static sfsistat
mlfi_count(SMFICTX *ctx, struct mlfi_conn *c, uint64_t n)
{
	struct reply r;

	mlfi_add(c, n);
	if (c->nrcpts > 0 && c->bytes > c->max_size) {
		reply_set(&r, "552", "5.3.4", "Message size exceeds fixed limit");
		mlfi_log(c, "END-OF-MESSAGE", &r, NULL);
		return mlfi_reply(ctx, &r);
	}
	return SMFIS_CONTINUE;
}

/* mlfi_header_count - mlfi_count for the headers: unanswered when the MTA took MLFI_NOREPLY */
static sfsistat
mlfi_header_count(SMFICTX *ctx, struct mlfi_conn *c, uint64_t n)
{
	if (c->noreply) {
		mlfi_add(c, n);
		return SMFIS_NOREPLY;
	}
	return mlfi_count(ctx, c, n);
}

/*
 * mlfi_authres_ours - does an Authentication-Results value speak in our
 * name (its authserv-id is ours)? RFC 8601 5: such a header from outside
 * is removed, since we are the one to say it.
 */
static int
mlfi_authres_ours(const char *value)
{
	const char *id = spf_authserv_id();
	size_t	n = strlen(id);

	while (*value == ' ' || *value == '\t' || *value == '\r' || *value == '\n')
		value++;
	return strncasecmp(value, id, n) == 0
		&& (value[n] == ';' || value[n] == ' ' || value[n] == '\t' || value[n] == '('
		    || value[n] == '\r' || value[n] == '\n' || value[n] == 0);
}

static sfsistat
mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;	/* with MLFI_NOREPLY taken there is a c (mlfi_connect) */
	mlfi_qid(ctx, c);
	for (size_t i = 0; i < MILTER_OWN_HEADERS; i++) {
		if (strcasecmp(name, mlfi_own_headers[i]) == 0) {
			c->own_headers[i]++;	/* removed at the end, never shown to spamd */
			return mlfi_header_count(ctx, c, (uint64_t) strlen(name) + 2 + strlen(value) + 2);
		}
	}
	if (strcasecmp(name, "Authentication-Results") == 0) {
		c->authres_seen++;
		if (mlfi_authres_ours(value) && c->nauthres_ours < MILTER_AUTHRES_MAX)
			c->authres_ours[c->nauthres_ours++] = c->authres_seen;
	}
	if (strcasecmp(name, "Subject") == 0 && c->subject_seen == 0) {
		if (strlen(value) <= MILTER_SUBJECT_MAX) {
			memcpy(c->subject, value, strlen(value) + 1);
			c->subject_seen = 1;
		} else {
			c->subject_seen = 2;
		}
	}
	if (c->spam_wanted && c->spam_len == 0 && !c->spam_too_big)
		mlfi_keep_received(c);
	if (c->virus_wanted || c->spam_wanted) {
		mlfi_feed(c, name, strlen(name));
		mlfi_feed(c, ": ", 2);
		mlfi_feed(c, value, strlen(value));
		mlfi_feed(c, "\r\n", 2);
	}
	/* "Name: value" and CRLF, as the message is stored */
	return mlfi_header_count(ctx, c, (uint64_t) strlen(name) + 2 + strlen(value) + 2);
}

static sfsistat
mlfi_eoh(SMFICTX *ctx)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	mlfi_feed(c, "\r\n", 2);
	return mlfi_header_count(ctx, c, 2);	/* the empty line */
}

static sfsistat
mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	mlfi_feed(c, chunk, len);
	return mlfi_count(ctx, c, len);
}

/*
 * mlfi_scanner_error - a scanner failed: milter.on_scanner_error: accept
 * (logged) or tempfail (451 4.7.1, Postfix's words for a milter's
 * temporary failure)
 */
static sfsistat
mlfi_scanner_error(SMFICTX *ctx, struct mlfi_conn *c, const char *what, const char *why)
{
	struct reply r;

	msg_warn("%s: %s: %s", c->qid[0] ? c->qid : "NOQUEUE", what, why);
	if (c->conf->milter_on_scanner_error == CONF_ON_ERROR_ACCEPT) {
		msg_info("%s: accepted without the %s (on_scanner_error = accept)",
			 c->qid[0] ? c->qid : "NOQUEUE", what);
		return SMFIS_CONTINUE;
	}
	reply_set(&r, "451", "4.7.1", "Service unavailable - try again later");
	mlfi_log(c, "END-OF-MESSAGE", &r, NULL);
	return mlfi_reply(ctx, &r);
}

/* mlfi_virus_verdict - clamd's answer for the whole message: continue, or the reply */
static sfsistat
mlfi_virus_verdict(SMFICTX *ctx, struct mlfi_conn *c)
{
	struct clamd_result res;
	struct reply r;

	if (c->scan == NULL && !c->scan_failed)
		return SMFIS_CONTINUE;		/* nothing was streamed (no header, no body) */
	if (!c->scan_failed) {
		memset(&res, 0, sizeof(res));
		if (mmetrics_clamd_finish(c->scan, &res, c->scan_err, sizeof(c->scan_err)) < 0)
			c->scan_failed = 1;
		c->scan = NULL;
	}
	if (c->scan_failed)
		return mlfi_scanner_error(ctx, c, "virus scan", c->scan_err);
	if (res.truncated)
		msg_info("%s: virus scan: only the first %d bytes were scanned",
			 c->qid[0] ? c->qid : "NOQUEUE", MILTER_CLAMD_MAX);
	if (!res.found) {
		if (msg_verbose)
			msg_info("%s: virus scan: clean", c->qid[0] ? c->qid : "NOQUEUE");
		return SMFIS_CONTINUE;
	}
	reply_set(&r, "554", "5.7.1", "Message rejected: virus %s found", res.name);
	mlfi_log(c, "END-OF-MESSAGE", &r, NULL);
	return mlfi_reply(ctx, &r);
}

/* mlfi_own_headers_remove - incoming X-Spam-* copies, last first (indexes stay valid) */
static void
mlfi_own_headers_remove(SMFICTX *ctx, const struct mlfi_conn *c)
{
	if (c->nrcpts == 0)
		return;
	for (size_t i = 0; i < MILTER_OWN_HEADERS; i++) {
		for (unsigned k = c->own_headers[i]; k > 0; k--) {
			if (smfi_chgheader(ctx, (char *) mlfi_own_headers[i], (int) k, NULL) != MI_SUCCESS)
				msg_warn("%s: cannot remove an incoming %s header",
					 c->qid[0] ? c->qid : "NOQUEUE", mlfi_own_headers[i]);
		}
	}
}

/* mlfi_addheader - add a header; a failure is logged */
static void
mlfi_addheader(SMFICTX *ctx, const struct mlfi_conn *c, const char *name, const char *value)
{
	if (smfi_addheader(ctx, (char *) name, (char *) value) != MI_SUCCESS)
		msg_warn("%s: cannot add the header %s", c->qid[0] ? c->qid : "NOQUEUE", name);
}

/*
 * mlfi_spam_status - "Yes|No, score=S tag=T discard=D tests=A,B,..." with
 * the rule list folded (newline and tab, as smfi_addheader allows) so no
 * line passes 78 bytes
 */
static void
mlfi_spam_status(char *buf, size_t len, int yes, const struct spamd_result *res, double tag,
		 double discard)
{
	size_t	n, col;
	const char *t = res->tests;

	n = (size_t) snprintf(buf, len, "%s, score=%.1f tag=%.1f discard=%.1f tests=",
			      yes ? "Yes" : "No", res->score, tag, discard);
	col = n + strlen("X-Spam-Status: ");
	while (*t && n + 3 < len) {
		size_t	w = strcspn(t, ",");

		if (col + w + 1 > 78 && col > 8) {
			buf[n++] = '\n';
			buf[n++] = '\t';
			col = 8;
		}
		if (n + w + 2 >= len)
			break;
		memcpy(buf + n, t, w + (t[w] == ','));
		n += w + (t[w] == ',');
		col += w + 1;
		t += w + (t[w] == ',');
	}
	buf[n < len ? n : len - 1] = 0;
}

/*
 * mlfi_spam - spamd's score and each recipient domain's limits: remove the
 * recipients over their discard limit; none left: discard, or 550 when a
 * removed recipient's domain says discard_action = reject; else tag the
 * message for the scanned recipients that remain (one copy goes to all of
 * them, so the lowest tag limit among them decides: see doc/mhmilter.md)
 */
static sfsistat
mlfi_spam(SMFICTX *ctx, struct mlfi_conn *c)
{
	struct spamd_result res;
	struct reply r;
	char	err[MILTER_ERR_MAX], status[MILTER_STATUS_MAX], score[32], subj[MILTER_SUBJECT_MAX + DOMAIN_SUBJECT_TAG_MAX + 2];
	const struct mlfi_rcpt *lowest = NULL;
	size_t	left = c->nothers, scanned_left = 0;
	int	reject = 0, tagged;
	const char *qid = c->qid[0] ? c->qid : "NOQUEUE";

	if (c->spam_too_big) {
		snprintf(status, sizeof(status), "Unchecked, message larger than %llu bytes",
			 (unsigned long long) c->conf->milter_spam_max_size);
		mlfi_addheader(ctx, c, "X-Spam-Status", status);
		return SMFIS_CONTINUE;
	}
	if (mmetrics_spamd_check(&c->conf->milter_spamd, c->spam_buf ? c->spam_buf : "", c->spam_len,
			MILTER_SCAN_TIMEOUT_MS, &res, err, sizeof(err)) < 0) {
		sfsistat rc = mlfi_scanner_error(ctx, c, "spam scan", err);

		if (rc == SMFIS_CONTINUE)
			mlfi_addheader(ctx, c, "X-Spam-Status", "Unchecked");
		return rc;
	}
	for (size_t i = 0; i < c->nrcpts; i++) {
		struct mlfi_rcpt *rc = &c->rcpts[i];

		if (rc->removed)
			continue;
		if (rc->spam && res.score >= rc->discard_limit) {
			rc->removed = 1;
			if (rc->discard_action == CONF_DISCARD_REJECT)
				reject = 1;
			if (smfi_delrcpt(ctx, rc->addr) != MI_SUCCESS)
				msg_warn("%s: cannot remove recipient %s", qid, rc->addr);
			msg_info("%s: spam: score %.1f, discard limit %.1f: removed recipient %s", qid,
				 res.score, rc->discard_limit, rc->addr);
			continue;
		}
		left++;
		if (rc->spam) {
			scanned_left++;
			if (lowest == NULL || rc->tag_limit < lowest->tag_limit)
				lowest = rc;
		}
	}
	if (left == 0 && reject) {
		reply_set(&r, "550", "5.7.1", "Message rejected as spam");
		mlfi_log(c, "END-OF-MESSAGE", &r, NULL);
		return mlfi_reply(ctx, &r);
	}
	if (left == 0) {
		msg_info("%s: discard: END-OF-MESSAGE from %s[%s]: spam score %.1f; from=<%s>", qid,
			 c->client_name, c->client_ip[0] ? c->client_ip : "unknown", res.score,
			 c->sender_text);
		return SMFIS_DISCARD;
	}
	if (scanned_left == 0)
		return SMFIS_CONTINUE;	/* only recipients not scanned remain */
	tagged = res.score >= lowest->tag_limit;
	mlfi_spam_status(status, sizeof(status), tagged, &res, lowest->tag_limit, lowest->discard_limit);
	if (tagged) {
		snprintf(score, sizeof(score), "%.1f", res.score);
		mlfi_addheader(ctx, c, "X-Spam-Flag", "YES");
		mlfi_addheader(ctx, c, "X-Spam-Score", score);
	}
	mlfi_addheader(ctx, c, "X-Spam-Status", status);
	if (tagged && lowest->subject_tag[0]) {
		if (c->subject_seen == 2) {
			msg_info("%s: spam: Subject too long to tag", qid);
		} else if (c->subject_seen == 0) {
			mlfi_addheader(ctx, c, "Subject", lowest->subject_tag);
		} else if (strncmp(c->subject, lowest->subject_tag, strlen(lowest->subject_tag)) != 0) {
			snprintf(subj, sizeof(subj), "%s %s", lowest->subject_tag, c->subject);
			if (smfi_chgheader(ctx, "Subject", 1, subj) != MI_SUCCESS)
				msg_warn("%s: cannot tag the Subject", qid);
		}
	}
	if (msg_verbose)
		msg_info("%s: spam: score %.1f, %s", qid, res.score, tagged ? "tagged" : "not tagged");
	return SMFIS_CONTINUE;
}

/*
 * mlfi_spf_headers - incoming Authentication-Results in our name go (last
 * first, so the indexes hold); ours and Received-SPF go on top
 */
static void
mlfi_spf_headers(SMFICTX *ctx, const struct mlfi_conn *c)
{
	const char *qid = c->qid[0] ? c->qid : "NOQUEUE";

	for (size_t i = c->nauthres_ours; i > 0; i--) {
		if (smfi_chgheader(ctx, "Authentication-Results", (int) c->authres_ours[i - 1], NULL)
		    != MI_SUCCESS)
			msg_warn("%s: cannot remove an incoming Authentication-Results header", qid);
	}
	if (smfi_insheader(ctx, 0, "Authentication-Results", (char *) c->spf.auth_results) != MI_SUCCESS)
		msg_warn("%s: cannot add the header Authentication-Results", qid);
	if (smfi_insheader(ctx, 0, "Received-SPF", (char *) c->spf.received_spf) != MI_SUCCESS)
		msg_warn("%s: cannot add the header Received-SPF", qid);
}

static sfsistat
mlfi_eom(SMFICTX *ctx)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);
	sfsistat rc;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	mlfi_qid(ctx, c);
	if ((rc = mlfi_count(ctx, c, 0)) != SMFIS_CONTINUE) {	/* past the limit in unanswered headers */
		mlfi_msg_reset(c);
		return rc;
	}
	if (c->virus_wanted && (rc = mlfi_virus_verdict(ctx, c)) != SMFIS_CONTINUE) {
		mlfi_msg_reset(c);
		return rc;
	}
	/* a recipient whose own domain's limit the message passed loses it */
	for (size_t i = 0; i < c->nrcpts; i++) {
		if (c->bytes <= c->rcpts[i].max_size)
			continue;
		c->rcpts[i].removed = 1;
		if (smfi_delrcpt(ctx, c->rcpts[i].addr) != MI_SUCCESS)
			msg_warn("%s: cannot remove recipient %s", c->qid, c->rcpts[i].addr);
		else
			msg_info("%s: removed recipient %s: message size %llu exceeds its domain's limit %llu",
				 c->qid[0] ? c->qid : "NOQUEUE", c->rcpts[i].addr,
				 (unsigned long long) c->bytes,
				 (unsigned long long) c->rcpts[i].max_size);
	}
	mlfi_own_headers_remove(ctx, c);
	rc = c->spam_wanted ? mlfi_spam(ctx, c) : SMFIS_CONTINUE;
	if (rc == SMFIS_CONTINUE && c->spf_wanted && c->spf_done)
		mlfi_spf_headers(ctx, c);
	mlfi_msg_reset(c);
	return rc;
}

static sfsistat
mlfi_abort(SMFICTX *ctx)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);

	if (c)
		mlfi_msg_reset(c);
	return SMFIS_CONTINUE;
}

static sfsistat
mlfi_close(SMFICTX *ctx)
{
	struct mlfi_conn *c = smfi_getpriv(ctx);

	if ((const void *) c == &mlfi_noreply_marker) {	/* ended before its connect */
		smfi_setpriv(ctx, NULL);
		return SMFIS_CONTINUE;
	}
	if (c) {
		mlfi_msg_reset(c);	/* a session cut mid-message gets no abort: its scans end here */
		free(c->rcpts);
		milter_conf_release(c->conf);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc milter_desc = {
	.xxfi_name = "mhmilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = MLFI_ACTIONS,
	.xxfi_connect = mlfi_connect,
	.xxfi_helo = mlfi_helo,
	.xxfi_envfrom = mlfi_envfrom,
	.xxfi_envrcpt = mlfi_envrcpt,
	.xxfi_header = mlfi_header,
	.xxfi_eoh = mlfi_eoh,
	.xxfi_body = mlfi_body,
	.xxfi_eom = mlfi_eom,
	.xxfi_abort = mlfi_abort,
	.xxfi_close = mlfi_close,
	.xxfi_negotiate = mlfi_negotiate,
};
