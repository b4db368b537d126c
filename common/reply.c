/*
 * reply.c - SMTP replies mhkit hands to Postfix.
 *
 * Every reject or defer the policy server (and, later, the milter) gives
 * is made by reply_set(): it checks the code and the enhanced status code
 * (RFC 3463: 4xx goes with 4.x.x, 5xx with 5.x.x), makes the text
 * printable and bounds it, so nothing from outside can inject a line
 * break into Postfix's protocol or a log. Text quoted from remote servers
 * goes through reply_remote() first (at most 200 printable bytes).
 *
 * Public functions: reply_set, reply_dunno, reply_remote, reply_code_valid.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "reply.h"

/* reply_code_valid - 3 digits 4xx/5xx and a matching X.Y.Z */
int
reply_code_valid(const char *code, const char *dsn)
{
	unsigned a, b;
	char	tail;

	if (strlen(code) != 3 || (code[0] != '4' && code[0] != '5')
	    || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9')
		return 0;
	if (dsn[0] != code[0] || dsn[1] != '.'
	    || sscanf(dsn + 2, "%3u.%3u%c", &a, &b, &tail) != 2)
		return 0;
	return strspn(dsn + 2, "0123456789.") == strlen(dsn + 2);
}

/* reply_printable - in place: CR, LF, controls, 8-bit -> '?' */
static void
reply_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || (unsigned char) *s > 0x7e)
			*s = '?';
}

/* reply_set - "CODE DSN text", checked and sanitised */
void
reply_set(struct reply *r, const char *code, const char *dsn, const char *fmt, ...)
{
	va_list	ap;
	int	n;
	size_t	used;

	if (!reply_code_valid(code, dsn))
		msg_panic("reply_set: bad code/DSN pair \"%s %s\"", code, dsn);
	r->kind = code[0] == '4' ? REPLY_DEFER : REPLY_REJECT;
	n = snprintf(r->text, sizeof(r->text), "%s %s ", code, dsn);
	used = (size_t) n;
	va_start(ap, fmt);
	n = vsnprintf(r->text + used, sizeof(r->text) - used, fmt, ap);
	va_end(ap);
	if (n < 0)
		msg_panic("reply_set: bad format \"%s\"", fmt);
	if ((size_t) n >= sizeof(r->text) - used)
		memcpy(r->text + sizeof(r->text) - 4, "...", 4);
	reply_printable(r->text);
}

void
reply_dunno(struct reply *r)
{
	r->kind = REPLY_DUNNO;
	memcpy(r->text, "DUNNO", sizeof("DUNNO"));
}

/* reply_remote - remote text for quoting */
char   *
reply_remote(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t	max = dstlen ? dstlen - 1 : 0;

	if (max > REPLY_REMOTE_MAX)
		max = REPLY_REMOTE_MAX;
	return log_printable(dst, max + 1, src, srclen);
}
