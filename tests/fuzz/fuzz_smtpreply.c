/*
 * fuzz_smtpreply.c - libFuzzer target for common/smtpreply.c, the reader
 * of call-ahead replies from servers we do not trust.
 *
 * FUZZ_SOURCES: common/smtpreply.c
 *
 * The input is read as a stream of replies, once whole and once in
 * pieces whose sizes come from the input's first byte. Both readings must
 * agree reply for reply (status, code, text, bytes taken). Every DONE
 * reply must keep the module's promises: a code 200..559 with second
 * digit 0..5, at most SMTPREPLY_LINES_MAX lines, a text of at most
 * SMTPREPLY_TEXT_MAX printable ASCII bytes with no '"', no leading or
 * trailing space and no double space. An ERROR takes no more bytes. Any
 * broken invariant traps (__builtin_trap), which libFuzzer reports.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtpreply.h"

#define REPLIES_MAX	4096

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	enum smtpreply_status st;
	int	code;
	size_t	end;			/* offset just past the reply */
	char	text[SMTPREPLY_TEXT_MAX + 1];
};

static struct seen whole[REPLIES_MAX], pieces[REPLIES_MAX];

static void
check_reply(const struct smtpreply *r)
{
	size_t	n = strlen(r->text);

	if (r->code < 200 || r->code > 559 || (r->code / 10) % 10 > 5)
		__builtin_trap();
	if (r->lines == 0 || r->lines > SMTPREPLY_LINES_MAX || n > SMTPREPLY_TEXT_MAX)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) r->text[i];

		if (c < 0x20 || c > 0x7e || c == '"')
			__builtin_trap();
		if (c == ' ' && (i == 0 || i + 1 == n || r->text[i + 1] == ' '))
			__builtin_trap();
	}
}

/* read_all - the replies in data, fed in pieces of at most step bytes (0: whole); how many */
static size_t
read_all(const uint8_t *data, size_t size, size_t step, struct seen *out)
{
	struct smtpreply r;
	size_t	off = 0, count = 0;

	smtpreply_init(&r);
	while (off < size && count < REPLIES_MAX) {
		size_t	n = step && size - off > step ? step : size - off, used;
		enum smtpreply_status st = smtpreply_feed(&r, (const char *) data + off, n, &used);

		if (used > n)
			__builtin_trap();
		off += used;
		if (st == SMTPREPLY_MORE) {
			if (used != n)
				__builtin_trap();
			continue;
		}
		out[count].st = st;
		out[count].code = r.code;
		out[count].end = off;
		memcpy(out[count].text, r.text, sizeof(r.text));
		count++;
		if (st == SMTPREPLY_ERROR) {
			size_t	again;

			if (smtpreply_feed(&r, "250 ok\r\n", 8, &again) != SMTPREPLY_ERROR || again != 0)
				__builtin_trap();
			break;
		}
		check_reply(&r);
		smtpreply_init(&r);
	}
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	step, a, b;

	if (size == 0)
		return 0;
	step = (size_t) (data[0] % 13) + 1;
	a = read_all(data + 1, size - 1, 0, whole);
	b = read_all(data + 1, size - 1, step, pieces);
	if (a != b)
		__builtin_trap();
	for (size_t i = 0; i < a; i++) {
		if (whole[i].st != pieces[i].st || whole[i].end != pieces[i].end)
			__builtin_trap();
		if (whole[i].st == SMTPREPLY_DONE
		    && (whole[i].code != pieces[i].code || strcmp(whole[i].text, pieces[i].text) != 0))
			__builtin_trap();
	}
	return 0;
}
