/*
 * smtpreply.c - read SMTP replies from a server we do not trust (the
 * call-ahead's customer servers): byte by byte or all at once, bounded in
 * line length and line count, strict about the code, and keeping only a
 * sanitised copy of the text. Pure: no I/O, no allocation, no logging.
 *
 * Public functions: smtpreply_init, smtpreply_feed, smtpreply_sanitise.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "smtpreply.h"

void
smtpreply_init(struct smtpreply *r)
{
	r->code = 0;
	r->text[0] = 0;
	r->lines = 0;
	r->linelen = 0;
	r->textlen = 0;
	r->error = 0;
	r->err[0] = 0;
}

static enum smtpreply_status
smtpreply_fail(struct smtpreply *r, const char *why)
{
	r->error = 1;
	snprintf(r->err, sizeof(r->err), "%s", why);
	return SMTPREPLY_ERROR;
}

void
smtpreply_sanitise(char *out, size_t outlen, const char *in, size_t inlen)
{
	size_t	n = 0;
	int	space = 1;		/* drop leading blanks */

	if (outlen == 0)
		return;
	for (size_t i = 0; i < inlen && n + 1 < outlen; i++) {
		unsigned char c = (unsigned char) in[i];

		if (c == ' ' || c == '\t') {
			if (!space)
				out[n++] = ' ';
			space = 1;
			continue;
		}
		if (c < 0x21 || c > 0x7e)
			continue;
		out[n++] = c == '"' ? '\'' : (char) c;
		space = 0;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

/* smtpreply_line - one whole line (no CR/LF); DONE after the last line of the reply */
static enum smtpreply_status
smtpreply_line(struct smtpreply *r, const char *p, size_t len)
{
	int	code;
	char	sep;

	if (len < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' || p[2] < '0' || p[2] > '9')
		return smtpreply_fail(r, "malformed reply code");
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	sep = len > 3 ? p[3] : ' ';
	if (sep != ' ' && sep != '-')
		return smtpreply_fail(r, "malformed reply code");
	if (r->lines > 0 && code != r->code)
		return smtpreply_fail(r, "reply lines with different codes");
	if (++r->lines > SMTPREPLY_LINES_MAX)
		return smtpreply_fail(r, "too many reply lines");
	r->code = code;
	if (len > 4 && r->textlen + 1 < sizeof(r->text)) {
		if (r->textlen > 0)
			r->text[r->textlen++] = ' ';
		smtpreply_sanitise(r->text + r->textlen, sizeof(r->text) - r->textlen, p + 4, len - 4);
		r->textlen += strlen(r->text + r->textlen);
		if (r->textlen > 0 && r->text[r->textlen - 1] == ' ')
			r->text[--r->textlen] = 0;	/* an empty text after a space */
	}
	return sep == '-' ? SMTPREPLY_MORE : SMTPREPLY_DONE;
}

enum smtpreply_status
smtpreply_feed(struct smtpreply *r, const char *buf, size_t len, size_t *used)
{
	size_t	i;

	*used = 0;
	if (r->error)
		return SMTPREPLY_ERROR;
	for (i = 0; i < len; i++) {
		char	c = buf[i];
		enum smtpreply_status st;
		size_t	l;

		if (c == 0) {
			*used = i + 1;
			return smtpreply_fail(r, "NUL byte in a reply");
		}
		if (c != '\n') {
			if (r->linelen + 1 >= sizeof(r->line)) {
				*used = i + 1;
				return smtpreply_fail(r, "reply line too long");
			}
			r->line[r->linelen++] = c;
			continue;
		}
		l = r->linelen;
		if (l > 0 && r->line[l - 1] == '\r')
			l--;
		r->linelen = 0;
		st = smtpreply_line(r, r->line, l);
		if (st != SMTPREPLY_MORE) {
			*used = i + 1;
			return st;
		}
	}
	*used = len;
	return SMTPREPLY_MORE;
}
