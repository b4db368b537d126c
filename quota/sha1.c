/*
 * sha1.c - SHA-1 (FIPS 180-4) of a byte string, as lowercase hex.
 *
 * Used for one thing: Redis names a cached script by the SHA-1 of its
 * text (EVALSHA), so the quota scripts' names are computed here once at
 * start instead of asking Redis (SCRIPT LOAD) before the first request.
 * Not for anything that needs a secure hash. Our own small copy: none of
 * the libraries mhkit already links exports one, and OpenSSL for forty
 * hex digits would be a new dependency.
 *
 * Public function: sha1_hex. Pure code: no allocation, no failure.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "sha1.h"

#define SHA1_BLOCK	64	/* bytes per compression round */

/* sha1_rol - rotate left */
static inline uint32_t
sha1_rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* sha1_block - fold one 64-byte block into h */
static void
sha1_block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
		    | (uint32_t) p[4 * i + 2] << 8 | (uint32_t) p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = sha1_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	for (int i = 0; i < 80; i++) {
		if (i < 20)
			f = (b & c) | (~b & d), k = 0x5a827999;
		else if (i < 40)
			f = b ^ c ^ d, k = 0x6ed9eba1;
		else if (i < 60)
			f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
		else
			f = b ^ c ^ d, k = 0xca62c1d6;
		t = sha1_rol(a, 5) + f + e + k + w[i];
		e = d, d = c, c = sha1_rol(b, 30), b = a, a = t;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

/* sha1_hex - digest of data as 40 lowercase hex digits and a NUL */
void
sha1_hex(const void *data, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
	const unsigned char *p = data;
	unsigned char tail[2 * SHA1_BLOCK];
	size_t	rest, tlen;
	uint64_t bits = (uint64_t) len * 8;

	for (rest = len; rest >= SHA1_BLOCK; rest -= SHA1_BLOCK, p += SHA1_BLOCK)
		sha1_block(h, p);
	/* the rest, 0x80, zeros, and the length in bits: one or two blocks */
	memset(tail, 0, sizeof(tail));
	if (rest)
		memcpy(tail, p, rest);
	tail[rest] = 0x80;
	tlen = rest + 1 + 8 <= SHA1_BLOCK ? SHA1_BLOCK : 2 * SHA1_BLOCK;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (unsigned char) (bits >> (8 * i));
	sha1_block(h, tail);
	if (tlen > SHA1_BLOCK)
		sha1_block(h, tail + SHA1_BLOCK);
	for (int i = 0; i < 20; i++) {
		unsigned char byte = (unsigned char) (h[i / 4] >> (24 - 8 * (i % 4)));

		out[2 * i] = hex[byte >> 4];
		out[2 * i + 1] = hex[byte & 15];
	}
	out[SHA1_HEX_LEN] = 0;
}
