/*
 * sbuf.c - bounded growable byte strings.
 *
 * Every input we buffer has a named limit; an sbuf carries it.  Appends
 * that would pass the limit fail with -1 and leave the buffer unchanged,
 * so a caller reports a clear error rather than truncating.  Sizes are
 * checked for overflow before the buffer grows; the data always keeps a
 * spare NUL so it can be used as a C string.  Allocation failure is
 * treated as our own fatal condition (panic), as Postfix's mymalloc does.
 *
 * Public functions: sbuf_init, sbuf_free, sbuf_reset, sbuf_append,
 * sbuf_puts, sbuf_putc, sbuf_printf, sbuf_vprintf, sbuf_consume.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sbuf.h"

/* sbuf_init - empty buffer that may hold up to limit bytes */
void
sbuf_init(struct sbuf *sb, size_t limit)
{
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->limit = limit;
}

/* sbuf_free - release the storage */
void
sbuf_free(struct sbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

/* sbuf_reset - make empty, keep the storage */
void
sbuf_reset(struct sbuf *sb)
{
	sb->len = 0;
	if (sb->data)
		sb->data[0] = 0;
}

/* sbuf_reserve - room for len + more bytes and the NUL, within the limit */
int
sbuf_reserve(struct sbuf *sb, size_t more)
{
	size_t	need;
	size_t	ncap;
	char   *ndata;

	if (more > sb->limit || sb->len > sb->limit - more)
		return -1;
	need = sb->len + more + 1;
	if (need <= sb->cap)
		return 0;
	ncap = sb->cap ? sb->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > sb->limit + 1)
		ncap = sb->limit + 1;
	if ((ndata = realloc(sb->data, ncap)) == NULL)
		msg_panic("sbuf: out of memory (%zu bytes)", ncap);
	sb->data = ndata;
	sb->cap = ncap;
	return 0;
}

/* sbuf_append - add bytes; -1 when that would pass the limit */
int
sbuf_append(struct sbuf *sb, const void *p, size_t n)
{
	if (sbuf_reserve(sb, n) < 0)
		return -1;
	if (n)
		memcpy(sb->data + sb->len, p, n);
	sb->len += n;
	sb->data[sb->len] = 0;
	return 0;
}

int
sbuf_puts(struct sbuf *sb, const char *s)
{
	return sbuf_append(sb, s, strlen(s));
}

int
sbuf_putc(struct sbuf *sb, int c)
{
	char	ch = (char) c;

	return sbuf_append(sb, &ch, 1);
}

/* sbuf_vprintf - append formatted text; -1 when that would pass the limit */
int
sbuf_vprintf(struct sbuf *sb, const char *fmt, va_list ap)
{
	va_list	aq;
	int	n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || sbuf_reserve(sb, (size_t) n) < 0)
		return -1;
	vsnprintf(sb->data + sb->len, (size_t) n + 1, fmt, ap);
	sb->len += (size_t) n;
	return 0;
}

int
sbuf_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list	ap;
	int	ret;

	va_start(ap, fmt);
	ret = sbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return ret;
}

/* sbuf_consume - drop n bytes from the front */
void
sbuf_consume(struct sbuf *sb, size_t n)
{
	if (n >= sb->len) {
		sbuf_reset(sb);
		return;
	}
	memmove(sb->data, sb->data + n, sb->len - n);
	sb->len -= n;
	sb->data[sb->len] = 0;
}
