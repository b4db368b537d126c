/*
 * fuzz_dns.c - libFuzzer target for what mhkit reads from DNS servers:
 * the answer parsers of common/dnsq_parse.c (MX, A, TXT with their TTLs),
 * the MX set's cache text (common/mx.c, read back from Redis) and
 * milter/spf.c's spf_rr_parse (answers for libspf2) and
 * spf_auth_results (sender and HELO in a header).
 *
 * FUZZ_SOURCES: common/dnsq_parse.c common/mx.c common/address.c common/log.c milter/spf.c
 * FUZZ_LIBS: -lcares -lspf2 -lresolv -lpthread
 *
 * spf.c also holds the lookup that runs its own c-ares channel; the one
 * function of dnsq.c it calls for that, dnsq_channel_init, is a stub here
 * that is never reached, so no event loop or socket is linked in.
 *
 * The first input byte picks the parser, the second a buffer size or a
 * record type; the rest is the message or text, in a heap buffer of
 * exactly its size. Checked, from dnsq.h, mx.h and spf.h:
 *   - dnsq: one of ok, nxdomain, nodata, tempfail; a ttl of 0 for
 *     tempfail (with a reason), at most DNSQ_TTL_MAX for ok and
 *     DNSQ_NEG_TTL_MAX for nxdomain and nodata; on anything but ok the
 *     set is empty, the count 0, the text ""; an MX set holds at most
 *     MX_HOSTS_MAX valid lowercase host names without a trailing dot,
 *     sorted by preference then name, no duplicates; A records fit the
 *     caller's array; TXT text is NUL-terminated within its buffer;
 *   - mx_set_format and mx_set_parse are inverses on any set either
 *     makes;
 *   - spf_rr_parse: a record set, never NULL, with a herrno among
 *     NETDB_SUCCESS, HOST_NOT_FOUND, NO_DATA and TRY_AGAIN, and no
 *     records unless NETDB_SUCCESS;
 *   - spf_auth_results: on 0, a printable value within the buffer that
 *     starts with "AUTHSERV; spf=RESULT".
 * Any broken invariant traps (__builtin_trap), which libFuzzer reports.
 */
#include "config.h"

#include <arpa/nameser.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <spf2/spf.h>

#include "address.h"
#include "dnsq.h"
#include "dnsq_ares.h"
#include "dnsq_parse.h"
#include "mx.h"
#include "spf.h"

#define FUZZ_AUTHSERV	"mx.example.net"

enum fuzz_which {
	FUZZ_MX,
	FUZZ_A,
	FUZZ_TXT,
	FUZZ_MX_TEXT,
	FUZZ_SPF_RR,
	FUZZ_SPF_HEADER,
	FUZZ_WHICH_COUNT
};

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_assert - a broken invariant is a crash */
static inline void
fuzz_assert(int ok)
{
	if (!ok)
		__builtin_trap();
}

/* dnsq_channel_init - spf.c's lookup needs it; its parser does not */
int
dnsq_channel_init(ares_channel *ch, const struct conf *conf, ares_sock_state_cb cb,
		  void *cb_data, char *err, size_t errlen)
{
	(void) ch;
	(void) conf;
	(void) cb;
	(void) cb_data;
	(void) err;
	(void) errlen;
	__builtin_trap();
}

/* fuzz_alloc - a heap buffer of exactly len bytes (at least 1) */
static void *
fuzz_alloc(size_t len)
{
	void   *p = malloc(len ? len : 1);

	fuzz_assert(p != NULL);
	return p;
}

/* fuzz_ttl_ok - the status and ttl promises of dnsq.h */
static void
fuzz_ttl_ok(enum dnsq_status s, uint32_t ttl, const char *why)
{
	switch (s) {
	case DNSQ_OK:
		fuzz_assert(ttl <= DNSQ_TTL_MAX);
		break;
	case DNSQ_NXDOMAIN:
	case DNSQ_NODATA:
		fuzz_assert(ttl <= DNSQ_NEG_TTL_MAX);
		break;
	case DNSQ_TEMPFAIL:
		fuzz_assert(ttl == 0 && why[0] != 0);
		break;
	default:
		fuzz_assert(0);
	}
	fuzz_assert(memchr(why, 0, DNSQ_WHY_MAX) != NULL);
}

/* fuzz_mx_set_ok - at most MX_HOSTS_MAX canonical names, in order, no duplicates */
static void
fuzz_mx_set_ok(const struct mx_set *set)
{
	fuzz_assert(set->count <= MX_HOSTS_MAX);
	for (size_t i = 0; i < set->count; i++) {
		const struct mx_host *h = &set->hosts[i];
		size_t	n = strnlen(h->name, sizeof(h->name));

		fuzz_assert(n > 0 && n < sizeof(h->name) && h->pref <= 65535);
		fuzz_assert(h->name[n - 1] != '.' && address_valid_hostname(h->name, n));
		for (size_t j = 0; j < n; j++)
			fuzz_assert(!(h->name[j] >= 'A' && h->name[j] <= 'Z'));
		if (i > 0) {
			const struct mx_host *p = &set->hosts[i - 1];

			fuzz_assert(p->pref < h->pref
				    || (p->pref == h->pref && strcmp(p->name, h->name) < 0));
		}
	}
}

/* fuzz_mx_trip - format, parse back, the same set */
static void
fuzz_mx_trip(const struct mx_set *set)
{
	static struct mx_set back;
	char   *buf = fuzz_alloc(MX_TEXT_MAX);

	fuzz_assert(mx_set_format(set, buf, MX_TEXT_MAX) == buf);
	fuzz_assert(mx_set_parse(buf, &back) == 0 && back.count == set->count);
	for (size_t i = 0; i < set->count; i++)
		fuzz_assert(back.hosts[i].pref == set->hosts[i].pref
			    && strcmp(back.hosts[i].name, set->hosts[i].name) == 0);
	free(buf);
}

/* fuzz_answer - one DNS message through the MX, A or TXT parser */
static void
fuzz_answer(enum fuzz_which which, unsigned pick, const unsigned char *msg, int len)
{
	static struct mx_set set;
	char	why[DNSQ_WHY_MAX];
	uint32_t ttl = 12345;
	enum dnsq_status s;

	memset(why, 'x', sizeof(why));
	if (which == FUZZ_MX) {
		struct dnsq_mx_ctx c = {.set = &set};

		s = dnsq_mx_parse(msg, len, &c, &ttl, why, sizeof(why));
		fuzz_ttl_ok(s, ttl, why);
		fuzz_assert(s == DNSQ_OK || set.count == 0);
		fuzz_mx_set_ok(&set);
		fuzz_mx_trip(&set);
	} else if (which == FUZZ_A) {
		size_t	max = pick % DNSQ_A_MAX + 1;
		struct dnsq_a_ctx c = {.addrs = fuzz_alloc(max * 4), .max = max};

		s = dnsq_a_parse(msg, len, &c, &ttl, why, sizeof(why));
		fuzz_ttl_ok(s, ttl, why);
		fuzz_assert(c.count <= max && (s == DNSQ_OK || c.count == 0));
		free(c.addrs);
	} else {
		size_t	outlen = pick * 3;	/* 0..765: none, tiny, DNSQ_TXT_MAX and more */
		struct dnsq_txt_ctx c = {.out = outlen ? fuzz_alloc(outlen) : NULL, .outlen = outlen};

		s = dnsq_txt_parse(msg, len, &c, &ttl, why, sizeof(why));
		fuzz_ttl_ok(s, ttl, why);
		if (outlen) {
			fuzz_assert(memchr(c.out, 0, outlen) != NULL && c.used < outlen);
			fuzz_assert(strlen(c.out) == (s == DNSQ_OK ? c.used : 0));
		}
		free(c.out);
	}
}

/* fuzz_mx_text - the cache text of an MX set, as Redis hands it back */
static void
fuzz_mx_text(const char *text)
{
	static struct mx_set set;

	if (mx_set_parse(text, &set) < 0)
		return;
	fuzz_mx_set_ok(&set);
	fuzz_mx_trip(&set);
}

/* fuzz_spf_rr - one DNS message as libspf2's record set of a type */
static void
fuzz_spf_rr(unsigned pick, const unsigned char *msg, int len)
{
	static const ns_type types[] = {ns_t_a, ns_t_aaaa, ns_t_mx, ns_t_ptr, ns_t_txt, ns_t_spf};
	static SPF_dns_server_t srv = {.name = "fuzz"};
	ns_type	type = types[pick % (sizeof(types) / sizeof(types[0]))];
	SPF_dns_rr_t *rr = spf_rr_parse(&srv, "example.org", type, msg, len);

	fuzz_assert(rr != NULL);
	fuzz_assert(rr->herrno == NETDB_SUCCESS || rr->herrno == HOST_NOT_FOUND
		    || rr->herrno == NO_DATA || rr->herrno == TRY_AGAIN);
	fuzz_assert(rr->num_rr >= 0 && rr->num_rr <= 64);
	fuzz_assert(rr->herrno == NETDB_SUCCESS || rr->num_rr == 0);
	for (int i = 0; i < rr->num_rr; i++)
		if (type != ns_t_a && type != ns_t_aaaa)
			fuzz_assert(strlen(rr->rr[i]->txt) < 65536);
	SPF_dns_rr_free(rr);
}

/* fuzz_spf_header - "SENDER\nHELO" in an Authentication-Results value of 1..256 bytes */
static void
fuzz_spf_header(unsigned pick, const char *text)
{
	const char *nl = strchr(text, '\n');
	size_t	slen = nl ? (size_t) (nl - text) : strlen(text);
	char   *sender = fuzz_alloc(slen + 1);
	const char *helo = nl ? nl + 1 : "";
	enum spf_result r = (enum spf_result) (pick % 8);
	size_t	len = pick + 1;
	char   *buf = fuzz_alloc(len);
	char	want[64];

	memcpy(sender, text, slen);
	sender[slen] = 0;
	if (spf_auth_results(buf, len, FUZZ_AUTHSERV, r, sender, helo) == 0) {
		fuzz_assert(memchr(buf, 0, len) != NULL);
		snprintf(want, sizeof(want), "%s; spf=%s", FUZZ_AUTHSERV, spf_result_name(r));
		fuzz_assert(strncmp(buf, want, strlen(want)) == 0);
		for (const char *p = buf; *p; p++)
			fuzz_assert((unsigned char) *p >= 0x20 && (unsigned char) *p <= 0x7e);
	}
	free(buf);
	free(sender);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum fuzz_which which;
	unsigned char *msg;
	size_t	len;

	if (size < 2 || size - 2 > 65535)
		return 0;
	which = (enum fuzz_which) (data[0] % FUZZ_WHICH_COUNT);
	len = size - 2;
	/* text: a C string; a message: exactly its bytes */
	msg = fuzz_alloc(which == FUZZ_MX_TEXT || which == FUZZ_SPF_HEADER ? len + 1 : len);
	memcpy(msg, data + 2, len);
	switch (which) {
	case FUZZ_MX:
	case FUZZ_A:
	case FUZZ_TXT:
		fuzz_answer(which, data[1], msg, (int) len);
		break;
	case FUZZ_MX_TEXT:
		msg[len] = 0;
		fuzz_mx_text((const char *) msg);
		break;
	case FUZZ_SPF_RR:
		fuzz_spf_rr(data[1], msg, (int) len);
		break;
	default:
		msg[len] = 0;
		fuzz_spf_header(data[1], (const char *) msg);
		break;
	}
	free(msg);
	return 0;
}
