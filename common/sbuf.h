/* sbuf.h - bounded growable byte strings (see sbuf.c) */
#ifndef MH_SBUF_H
#define MH_SBUF_H

#include <stdarg.h>
#include <stddef.h>

struct sbuf {
	char   *data;		/* always NUL-terminated when non-NULL */
	size_t	len;		/* bytes in use, excluding the NUL */
	size_t	cap;		/* bytes allocated, including the NUL */
	size_t	limit;		/* most bytes len may reach */
};

void	sbuf_init(struct sbuf *, size_t limit);
void	sbuf_free(struct sbuf *);
void	sbuf_reset(struct sbuf *);
int	sbuf_append(struct sbuf *, const void *, size_t);
/* sbuf_reserve - room for more bytes (and the NUL) past len, or -1 past the limit; len unchanged */
int	sbuf_reserve(struct sbuf *, size_t more);
int	sbuf_puts(struct sbuf *, const char *);
int	sbuf_putc(struct sbuf *, int);
int	sbuf_printf(struct sbuf *, const char *, ...) __attribute__((format(printf, 2, 3)));
int	sbuf_vprintf(struct sbuf *, const char *, va_list) __attribute__((format(printf, 2, 0)));
void	sbuf_consume(struct sbuf *, size_t);

static inline const char *
sbuf_str(const struct sbuf *sb)
{
	return sb->data ? sb->data : "";
}

#endif
