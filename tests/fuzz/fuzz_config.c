/*
 * fuzz_config.c - libFuzzer target for the parsers of configuration
 * values, list entries and domain settings: text from mhkit.conf, from
 * mhlist's command line and from Redis.
 *
 * FUZZ_SOURCES: common/units.c common/endpoint.c common/address.c common/listentry.c common/domain.c common/dnsbl.c common/log.c
 *
 * The first input byte picks the parser, the rest is its text (a C
 * string in a heap buffer of exactly its size; list entries take the
 * bytes with their length). What is checked, from the headers' promises:
 *   - sizes, durations (units.h): a value formats into UNITS_FORMAT_MAX
 *     and parses back to itself, both for parsed text and for any 64-bit
 *     value taken from the input; a plain number (units_parse_uint) reads
 *     the same as a size and within its range; a score is -1000..1000;
 *   - sockets, host:port, DNS servers (endpoint.h): what parses formats
 *     into ENDPOINT_FORMAT_MAX and parses back to the same record, ports
 *     1..65535, unix paths absolute and within ENDPOINT_PATH_MAX;
 *   - list entries (listentry.h): the canonical text parses to itself;
 *     for a sender and a client IP from the input, the entry matches
 *     exactly when its text is among listentry_candidates(), and every
 *     candidate parses to an entry that matches;
 *   - domain settings (domain.h): a value that is accepted formats to a
 *     canonical text that is accepted again and formats the same (Redis
 *     stores that text and reads it back with domain_setting_set);
 *   - DNSBL query names (dnsbl.h): NUL-terminated within the buffer,
 *     ending with the zone;
 *   - every -1 leaves a non-empty, NUL-terminated error line.
 * Any broken invariant traps (__builtin_trap), which libFuzzer reports.
 */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "address.h"
#include "conf.h"
#include "dnsbl.h"
#include "domain.h"
#include "endpoint.h"
#include "listentry.h"
#include "units.h"

#define FUZZ_ERR_MAX	600

enum fuzz_which {
	FUZZ_SIZE,
	FUZZ_DURATION,
	FUZZ_UINT,
	FUZZ_SCORE,
	FUZZ_ENDPOINT,
	FUZZ_HOSTPORT,
	FUZZ_DNSSERVER,
	FUZZ_LISTENTRY,
	FUZZ_DOMAIN,
	FUZZ_DNSBL,
	FUZZ_WHICH_COUNT
};

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_err[FUZZ_ERR_MAX];

/* fuzz_assert - a broken invariant is a crash */
static inline void
fuzz_assert(int ok)
{
	if (!ok)
		__builtin_trap();
}

/* fuzz_alloc - a heap buffer of exactly len bytes (at least 1) */
static char *
fuzz_alloc(size_t len)
{
	char   *p = malloc(len ? len : 1);

	fuzz_assert(p != NULL);
	return p;
}

/* fuzz_strdup - bytes as a C string in an exact heap buffer */
static char *
fuzz_strdup(const uint8_t *data, size_t len)
{
	char   *p = fuzz_alloc(len + 1);

	memcpy(p, data, len);
	p[len] = 0;
	return p;
}

/* fuzz_failed - after a -1: one non-empty line in the error buffer */
static void
fuzz_failed(void)
{
	fuzz_assert(memchr(fuzz_err, 0, sizeof(fuzz_err)) != NULL && fuzz_err[0] != 0);
	fuzz_assert(strchr(fuzz_err, '\n') == NULL);
}

/* fuzz_u64 - eight bytes of the input as a number (fewer are zero-filled) */
static uint64_t
fuzz_u64(const uint8_t *data, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 8 && i < len; i++)
		v = v << 8 | data[i];
	return v;
}

/* fuzz_units_trip - format v as a size and a duration, parse both back */
static void
fuzz_units_trip(uint64_t v)
{
	char   *buf = fuzz_alloc(UNITS_FORMAT_MAX);
	uint64_t back;

	fuzz_assert(units_format_size(v, buf, UNITS_FORMAT_MAX) == buf);
	fuzz_assert(units_parse_size(buf, &back, fuzz_err, sizeof(fuzz_err)) == 0 && back == v);
	fuzz_assert(units_format_duration(v, buf, UNITS_FORMAT_MAX) == buf);
	fuzz_assert(units_parse_duration(buf, &back, fuzz_err, sizeof(fuzz_err)) == 0 && back == v);
	free(buf);
}

/* fuzz_units - sizes, durations, plain numbers, scores */
static void
fuzz_units(enum fuzz_which which, const char *text, const uint8_t *raw, size_t len)
{
	uint64_t v, w;
	double	d;

	switch (which) {
	case FUZZ_SIZE:
		if (units_parse_size(text, &v, fuzz_err, sizeof(fuzz_err)) < 0) {
			fuzz_failed();
			break;
		}
		fuzz_assert(strlen(text) <= UNITS_TEXT_MAX);
		fuzz_units_trip(v);
		break;
	case FUZZ_DURATION:
		if (units_parse_duration(text, &v, fuzz_err, sizeof(fuzz_err)) < 0) {
			fuzz_failed();
			break;
		}
		fuzz_assert(strlen(text) <= UNITS_TEXT_MAX);
		fuzz_units_trip(v);
		break;
	case FUZZ_UINT:
		fuzz_units_trip(fuzz_u64(raw, len));
		if (units_parse_uint(text, 0, UINT64_MAX, &v, fuzz_err, sizeof(fuzz_err)) < 0) {
			fuzz_failed();
			fuzz_assert(units_parse_uint(text, 1, 65535, &w, fuzz_err, sizeof(fuzz_err)) < 0);
			break;
		}
		/* a plain number is a number of bytes too */
		fuzz_assert(units_parse_size(text, &w, fuzz_err, sizeof(fuzz_err)) == 0 && w == v);
		if (units_parse_uint(text, 1, 65535, &w, fuzz_err, sizeof(fuzz_err)) == 0)
			fuzz_assert(w == v && w >= 1 && w <= 65535);
		else
			fuzz_assert(v < 1 || v > 65535);
		break;
	case FUZZ_SCORE:
		if (units_parse_score(text, &d, fuzz_err, sizeof(fuzz_err)) < 0) {
			fuzz_failed();
			break;
		}
		fuzz_assert(isfinite(d) && d >= -1000 && d <= 1000);
		break;
	default:
		break;
	}
}

/* fuzz_endpoint - a socket as in main.cf */
static void
fuzz_endpoint(const char *text)
{
	struct endpoint ep, back;
	char   *buf;

	memset(&ep, 0x5a, sizeof(ep));
	if (endpoint_parse(text, &ep, fuzz_err, sizeof(fuzz_err)) < 0) {
		fuzz_failed();
		fuzz_assert(strncmp(fuzz_err, "bad socket \"", 12) == 0);
		return;
	}
	switch (ep.kind) {
	case ENDPOINT_NONE:
		fuzz_assert(text[0] == 0);
		break;
	case ENDPOINT_INET:
		fuzz_assert(ep.port >= 1 && ep.port <= 65535);
		fuzz_assert(memchr(ep.host, 0, sizeof(ep.host)) != NULL && ep.host[0] != 0);
		break;
	case ENDPOINT_UNIX:
		fuzz_assert(memchr(ep.path, 0, sizeof(ep.path)) != NULL && ep.path[0] == '/');
		break;
	default:
		fuzz_assert(0);
	}
	buf = fuzz_alloc(ENDPOINT_FORMAT_MAX);
	fuzz_assert(endpoint_format(&ep, buf, ENDPOINT_FORMAT_MAX) == buf);
	fuzz_assert(endpoint_parse(buf, &back, fuzz_err, sizeof(fuzz_err)) == 0);
	fuzz_assert(back.kind == ep.kind && back.port == ep.port);
	fuzz_assert(strcmp(back.host, ep.host) == 0 && strcmp(back.path, ep.path) == 0);
	free(buf);
}

/* fuzz_hostport - "host:port" (default port 0 or 25) and DNS servers "address@port" */
static void
fuzz_hostport(enum fuzz_which which, const char *text, unsigned default_port)
{
	struct hostport hp, back;
	char   *buf;
	int	ret;

	if (which == FUZZ_HOSTPORT)
		ret = hostport_parse(text, default_port, &hp, fuzz_err, sizeof(fuzz_err));
	else
		ret = dnsserver_parse(text, &hp, fuzz_err, sizeof(fuzz_err));
	if (ret < 0) {
		fuzz_failed();
		return;
	}
	fuzz_assert(memchr(hp.host, 0, sizeof(hp.host)) != NULL && hp.host[0] != 0);
	fuzz_assert(hp.port <= 65535);
	buf = fuzz_alloc(ENDPOINT_FORMAT_MAX);
	if (which == FUZZ_HOSTPORT) {
		fuzz_assert(hp.port != 0 || default_port == 0);
		fuzz_assert(hostport_format(&hp, buf, ENDPOINT_FORMAT_MAX) == buf);
		fuzz_assert(hostport_parse(buf, 0, &back, fuzz_err, sizeof(fuzz_err)) == 0);
	} else {
		fuzz_assert(dnsserver_format(&hp, buf, ENDPOINT_FORMAT_MAX) == buf);
		fuzz_assert(dnsserver_parse(buf, &back, fuzz_err, sizeof(fuzz_err)) == 0);
	}
	fuzz_assert(strcmp(back.host, hp.host) == 0 && back.port == hp.port);
	free(buf);
}

/* fuzz_listentry - "ENTRY\nSENDER\nCLIENT": the entry, its canonical text, and matching */
static void
fuzz_listentry(const uint8_t *data, size_t len)
{
	static char cands[LISTENTRY_CANDIDATES_MAX][LISTENTRY_TEXT_MAX];
	const uint8_t *nl = memchr(data, '\n', len);
	size_t	elen = nl ? (size_t) (nl - data) : len;
	const uint8_t *rest = nl ? nl + 1 : data + len;
	size_t	rlen = len - (size_t) (rest - data);
	const uint8_t *nl2 = memchr(rest, '\n', rlen);
	size_t	slen = nl2 ? (size_t) (nl2 - rest) : rlen;
	struct listentry e, back;
	struct address sender;
	char   *entry, *stext, *client = NULL;
	size_t	n, in;
	int	have_sender;

	entry = fuzz_alloc(elen);
	memcpy(entry, data, elen);
	if (listentry_parse(entry, elen, &e, fuzz_err, sizeof(fuzz_err)) < 0) {
		fuzz_failed();
		free(entry);
		return;
	}
	free(entry);
	fuzz_assert(memchr(e.text, 0, sizeof(e.text)) != NULL && e.text[0] != 0);
	for (const char *p = e.text; *p; p++)
		fuzz_assert(!(*p >= 'A' && *p <= 'Z'));
	fuzz_assert(listentry_parse(e.text, strlen(e.text), &back, fuzz_err, sizeof(fuzz_err)) == 0);
	fuzz_assert(back.kind == e.kind && strcmp(back.text, e.text) == 0);
	if (e.kind == LISTENTRY_NETWORK)
		fuzz_assert(back.family == e.family && back.prefix == e.prefix
			    && memcmp(back.addr, e.addr, sizeof(e.addr)) == 0
			    && e.prefix <= (e.family == AF_INET ? 32u : 128u));

	/* a sender and a client from the rest of the input */
	stext = fuzz_alloc(slen);
	memcpy(stext, rest, slen);
	have_sender = address_parse(stext, slen, &sender, NULL, 0) == 0;
	free(stext);
	if (nl2 != NULL)
		client = fuzz_strdup(nl2 + 1, rlen - slen - 1);

	n = listentry_candidates(have_sender ? &sender : NULL, client, cands,
				 LISTENTRY_CANDIDATES_MAX);
	fuzz_assert(n <= LISTENTRY_CANDIDATES_MAX);
	in = 0;
	for (size_t i = 0; i < n; i++) {
		struct listentry c;

		in |= strcmp(cands[i], e.text) == 0;
		fuzz_assert(listentry_parse(cands[i], strlen(cands[i]), &c, NULL, 0) == 0);
		fuzz_assert(strcmp(c.text, cands[i]) == 0);
		fuzz_assert(listentry_match(&c, have_sender ? &sender : NULL, client) == 1);
	}
	fuzz_assert(listentry_match(&e, have_sender ? &sender : NULL, client) == (int) in);
	free(client);
}

/* fuzz_domain - one setting's value: accepted text round trips through its canonical form */
static void
fuzz_domain(unsigned pick, const char *text)
{
	static char tag[] = "[SPAM]";
	static struct conf conf = {
		.defaults_max_size = 10 * 1024 * 1024,
		.defaults_tag_limit = 5.0,
		.defaults_discard_limit = 10.0,
		.defaults_subject_tag = tag,
	};
	static struct domain d, again;
	enum domain_setting s = (enum domain_setting) (pick % DOMAIN_SET_COUNT);
	char   *buf = fuzz_alloc(DOMAIN_VALUE_MAX);
	char   *buf2 = fuzz_alloc(DOMAIN_VALUE_MAX);
	char	warn[FUZZ_ERR_MAX];
	int	looked;

	/* the text as a setting name: found only as a name, with '-' for '_' */
	if ((looked = domain_setting_lookup(text)) >= 0) {
		const char *name = domain_setting_name((enum domain_setting) looked);

		fuzz_assert(strlen(name) == strlen(text));
		for (size_t i = 0; name[i]; i++)
			fuzz_assert(name[i] == text[i] || (name[i] == '_' && text[i] == '-'));
	}

	domain_init(&d, "example.org", &conf);
	if (domain_setting_set(&d, s, text, fuzz_err, sizeof(fuzz_err)) < 0) {
		fuzz_failed();
		fuzz_assert(!domain_is_set(&d, s));
		goto out;
	}
	fuzz_assert(domain_is_set(&d, s));
	fuzz_assert(domain_setting_format(&d, s, buf, DOMAIN_VALUE_MAX) == buf);
	fuzz_assert(memchr(buf, 0, DOMAIN_VALUE_MAX) != NULL);

	/* what Redis would hold is read back, and reads the same */
	domain_init(&again, "example.org", &conf);
	fuzz_assert(domain_setting_set(&again, s, buf, fuzz_err, sizeof(fuzz_err)) == 0);
	fuzz_assert(domain_setting_format(&again, s, buf2, DOMAIN_VALUE_MAX) == buf2);
	fuzz_assert(strcmp(buf, buf2) == 0);
	if (domain_validate(&d, fuzz_err, sizeof(fuzz_err), warn, sizeof(warn)) < 0)
		fuzz_failed();
out:
	free(buf);
	free(buf2);
}

/* fuzz_dnsbl - "IP\nZONE" with an output buffer of 1..256 bytes */
static void
fuzz_dnsbl(unsigned pick, const char *text)
{
	size_t	outlen = (size_t) pick + 1;
	const char *nl = strchr(text, '\n');
	const char *zone = nl ? nl + 1 : "zen.example.net";
	char   *ip = nl ? fuzz_alloc((size_t) (nl - text) + 1) : NULL;
	char   *out = fuzz_alloc(outlen);
	unsigned char addrs[8][4];
	size_t	count = strlen(text) / 4 > 8 ? 8 : strlen(text) / 4;
	enum dnsbl_answer want = DNSBL_ANSWER_CLEAN;

	if (ip) {
		memcpy(ip, text, (size_t) (nl - text));
		ip[nl - text] = 0;
	}
	if (dnsbl_query_name(ip ? ip : text, zone, out, outlen) == 0) {
		size_t	n = strlen(out), z = strlen(zone);

		fuzz_assert(n < outlen && n >= z && strcmp(out + n - z, zone) == 0);
	}

	/* the text's bytes as A records: listed beats an error code beats clean */
	memcpy(addrs, text, count * 4);
	for (size_t i = 0; i < count; i++) {
		if (addrs[i][0] != 127)
			continue;
		if (addrs[i][1] == 255 && addrs[i][2] == 255)
			want = want == DNSBL_ANSWER_LISTED ? want : DNSBL_ANSWER_ERRCODE;
		else
			want = DNSBL_ANSWER_LISTED;
	}
	fuzz_assert(dnsbl_classify((const unsigned char (*)[4]) addrs, count) == want);
	free(out);
	free(ip);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum fuzz_which which;
	char   *text;

	if (size < 2)
		return 0;
	which = (enum fuzz_which) (data[0] % FUZZ_WHICH_COUNT);
	if (which == FUZZ_LISTENTRY) {
		fuzz_listentry(data + 1, size - 1);
		return 0;
	}
	/* the domain setting and the DNSBL buffer size take a second byte */
	if (which == FUZZ_DOMAIN || which == FUZZ_DNSBL) {
		text = fuzz_strdup(data + 2, size - 2);
		if (which == FUZZ_DOMAIN)
			fuzz_domain(data[1], text);
		else
			fuzz_dnsbl(data[1], text);
		free(text);
		return 0;
	}
	text = fuzz_strdup(data + 1, size - 1);
	switch (which) {
	case FUZZ_ENDPOINT:
		fuzz_endpoint(text);
		break;
	case FUZZ_HOSTPORT:
		fuzz_hostport(which, text, data[0] & 0x80 ? 25 : 0);
		break;
	case FUZZ_DNSSERVER:
		fuzz_hostport(which, text, 0);
		break;
	default:
		fuzz_units(which, text, data + 1, size - 1);
		break;
	}
	free(text);
	return 0;
}
