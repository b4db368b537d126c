/*
 * fuzz_address.c - libFuzzer target for common/address.c, which every
 * address, local part and domain from SMTP, Postfix and the lists passes.
 *
 * FUZZ_SOURCES: common/address.c
 *
 * The first input byte picks the error buffer (none, 1, 8 or 256 bytes)
 * and the size of the output buffers (exact heap buffers, so an overrun
 * is caught); the rest is the text, in a heap buffer of exactly its size.
 * Each parser runs on it, and the results are checked against address.h:
 *   - address_check_bytes refuses exactly NUL, control, DEL and 8-bit
 *     bytes; no parser accepts a text it refuses;
 *   - address_parse: a null sender has empty fields; a mailbox has a
 *     local part of 1..64 and a domain of 1..255 bytes, NUL-terminated,
 *     no upper case, no trailing dot; it formats into ADDRESS_TEXT_MAX,
 *     the text re-parses to the same address and formats the same;
 *     address_format fails on a buffer one byte short and otherwise fits;
 *   - address_parse_local, _domain, _hostname: canonical output that
 *     fits the buffer and re-parses to itself; a domain is also a host
 *     name; address_valid_hostname agrees with address_parse_hostname;
 *     a local part L parses as the local part of "L@example.org" and a
 *     host name H as the domain of "x@H" (same canonical text);
 *   - on -1 the error buffer holds a non-empty, NUL-terminated phrase.
 * Any broken invariant traps (__builtin_trap), which libFuzzer reports.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* fuzz_canonical - NUL within max + 1 bytes, no upper case, not empty */
static void
fuzz_canonical(const char *s, size_t max)
{
	const char *nul = memchr(s, 0, max + 1);

	fuzz_assert(nul != NULL && nul != s);
	for (; s < nul; s++)
		fuzz_assert(!(*s >= 'A' && *s <= 'Z'));
}

/* fuzz_err_ok - after a -1: a phrase in err when it has room for one */
static void
fuzz_err_ok(const char *err, size_t errlen)
{
	if (err == NULL || errlen == 0)
		return;
	fuzz_assert(memchr(err, 0, errlen) != NULL);
	if (errlen > 1)
		fuzz_assert(err[0] != 0);
}

/* fuzz_bad_byte - what address_check_bytes must refuse */
static int
fuzz_bad_byte(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) text[i];

		if (c < 0x20 || c >= 0x7f)
			return 1;
	}
	return 0;
}

/* fuzz_with - text wrapped in pre and post, in an exact heap buffer; its length */
static char *
fuzz_with(const char *pre, const char *text, size_t len, const char *post, size_t *outlen)
{
	size_t	a = strlen(pre), b = strlen(post);
	char   *p = fuzz_alloc(a + len + b);

	memcpy(p, pre, a);
	memcpy(p + a, text, len);
	memcpy(p + a + len, post, b);
	*outlen = a + len + b;
	return p;
}

/* fuzz_mailbox - address_parse and address_format */
static void
fuzz_mailbox(const char *text, size_t len, char *err, size_t errlen, size_t small)
{
	struct address a, b;
	char	buf[ADDRESS_TEXT_MAX], again[ADDRESS_TEXT_MAX];
	char   *copy, *tiny;
	size_t	n;

	if (address_parse(text, len, &a, err, errlen) < 0) {
		fuzz_err_ok(err, errlen);
		return;
	}
	fuzz_assert(!fuzz_bad_byte(text, len));
	fuzz_assert(address_format(&a, buf, sizeof(buf)) == buf);
	if (a.null) {
		fuzz_assert(a.local[0] == 0 && a.domain[0] == 0 && buf[0] == 0);
		return;
	}
	fuzz_canonical(a.local, ADDRESS_LOCAL_MAX);
	fuzz_canonical(a.domain, ADDRESS_DOMAIN_MAX);
	n = strlen(a.domain);
	fuzz_assert(a.domain[n - 1] != '.');

	/* the canonical text is an address that comes back unchanged */
	n = strlen(buf);
	copy = fuzz_alloc(n);
	memcpy(copy, buf, n);
	fuzz_assert(address_parse(copy, n, &b, NULL, 0) == 0);
	free(copy);
	fuzz_assert(!b.null && strcmp(a.local, b.local) == 0 && strcmp(a.domain, b.domain) == 0);
	fuzz_assert(address_format(&b, again, sizeof(again)) == again && strcmp(buf, again) == 0);

	/* format: exactly n + 1 bytes fit, n do not, a small buffer is never overrun */
	tiny = fuzz_alloc(n + 1);
	fuzz_assert(address_format(&a, tiny, n + 1) == tiny && strcmp(tiny, buf) == 0);
	fuzz_assert(address_format(&a, tiny, n) == NULL);
	free(tiny);
	tiny = fuzz_alloc(small);
	if (address_format(&a, tiny, small) != NULL)
		fuzz_assert(small > n && strcmp(tiny, buf) == 0);
	else
		fuzz_assert(small <= n);
	free(tiny);
}

/* fuzz_local - address_parse_local, and the same text as the local part of an address */
static void
fuzz_local(const char *text, size_t len, char *err, size_t errlen, size_t outlen)
{
	char   *out = fuzz_alloc(outlen);
	char	again[ADDRESS_LOCAL_MAX + 1];
	char   *addr;
	struct address a;
	size_t	n, alen;

	if (address_parse_local(text, len, out, outlen, err, errlen) < 0) {
		fuzz_err_ok(err, errlen);
		free(out);
		return;
	}
	fuzz_assert(!fuzz_bad_byte(text, len));
	fuzz_canonical(out, outlen - 1 < ADDRESS_LOCAL_MAX ? outlen - 1 : ADDRESS_LOCAL_MAX);
	n = strlen(out);
	fuzz_assert(address_parse_local(out, n, again, sizeof(again), NULL, 0) == 0);
	fuzz_assert(strcmp(out, again) == 0);

	addr = fuzz_with("", text, len, "@example.org", &alen);
	fuzz_assert(address_parse(addr, alen, &a, NULL, 0) == 0);
	fuzz_assert(strcmp(a.local, out) == 0 && strcmp(a.domain, "example.org") == 0);
	free(addr);
	free(out);
}

/* fuzz_domain - address_parse_domain and address_parse_hostname */
static void
fuzz_domain(const char *text, size_t len, char *err, size_t errlen, size_t outlen)
{
	char   *out = fuzz_alloc(outlen);
	char	host[ADDRESS_DOMAIN_MAX + 1], again[ADDRESS_DOMAIN_MAX + 1];
	char   *addr;
	struct address a;
	int	is_domain, is_host;
	size_t	n, alen;

	is_domain = address_parse_domain(text, len, out, outlen, err, errlen) == 0;
	if (!is_domain)
		fuzz_err_ok(err, errlen);
	is_host = address_parse_hostname(text, len, host, sizeof(host), NULL, 0) == 0;
	fuzz_assert(address_valid_hostname(text, len) == is_host);
	if (is_domain) {
		fuzz_assert(is_host && strcmp(out, host) == 0);
		fuzz_assert(strchr(out, '.') != NULL);
	}
	free(out);
	if (!is_host)
		return;
	fuzz_assert(!fuzz_bad_byte(text, len));
	fuzz_canonical(host, ADDRESS_DOMAIN_MAX);
	n = strlen(host);
	fuzz_assert(host[n - 1] != '.' && host[0] != '.');
	fuzz_assert(address_parse_hostname(host, n, again, sizeof(again), NULL, 0) == 0);
	fuzz_assert(strcmp(host, again) == 0);
	if (is_domain) {
		fuzz_assert(address_parse_domain(host, n, again, sizeof(again), NULL, 0) == 0);
		fuzz_assert(strcmp(host, again) == 0);
	}

	/* a host name is a domain of an address, and only fits a buffer past its length */
	addr = fuzz_with("x@", text, len, "", &alen);
	fuzz_assert(address_parse(addr, alen, &a, NULL, 0) == 0 && strcmp(a.domain, host) == 0);
	free(addr);
	out = fuzz_alloc(n);
	fuzz_assert(address_parse_hostname(text, len, out, n, NULL, 0) < 0);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errlens[4] = {0, 1, 8, 256};
	size_t	errlen, outlen, small, len;
	char   *err = NULL;
	char   *text;

	if (size == 0)
		return 0;
	errlen = errlens[data[0] & 3];
	/* output buffers: the documented size, or 1..64 bytes to try the bounds */
	outlen = data[0] & 4 ? (size_t) (data[0] >> 3) * 2 + 1 : ADDRESS_DOMAIN_MAX + 1;
	small = (size_t) (data[0] >> 2);
	len = size - 1;
	text = fuzz_alloc(len);
	memcpy(text, data + 1, len);
	if (errlen)
		err = fuzz_alloc(errlen);

	fuzz_assert(address_check_bytes(text, len, "address", err, errlen)
		    == (fuzz_bad_byte(text, len) ? -1 : 0));
	fuzz_mailbox(text, len, err, errlen, small);
	fuzz_local(text, len, err, errlen, outlen);
	fuzz_domain(text, len, err, errlen, outlen);

	free(err);
	free(text);
	return 0;
}
