/* reply.h - SMTP replies we hand to Postfix (see reply.c) */
#ifndef MH_REPLY_H
#define MH_REPLY_H

#include <stddef.h>

#define REPLY_TEXT_MAX		480	/* bytes of a whole reply line, code and DSN included */
#define REPLY_REMOTE_MAX	200	/* bytes of text quoted from a remote server */

enum reply_kind {
	REPLY_DUNNO,			/* no opinion: Postfix goes on with its restrictions */
	REPLY_OK,			/* accept */
	REPLY_DEFER,			/* 4xx */
	REPLY_REJECT			/* 5xx */
};

struct reply {
	enum reply_kind kind;
	char	text[REPLY_TEXT_MAX + 1];	/* "550 5.1.1 <a@b>: ..." or "DUNNO" */
};

/*
 * reply_set - the one way a reply is made: "CODE X.Y.Z text". The code
 * must be 4xx or 5xx and the DSN's class must match it (a bug otherwise:
 * panic); the text is made printable (CR, LF, controls and 8-bit bytes
 * become '?') and cut at REPLY_TEXT_MAX, marked with "...".
 */
void	reply_set(struct reply *, const char *code, const char *dsn, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
void	reply_dunno(struct reply *);
/* reply_remote - untrusted remote text made printable, no CR/LF, at most REPLY_REMOTE_MAX bytes */
char   *reply_remote(char *dst, size_t dstlen, const char *src, size_t srclen);
/* reply_code_valid - "452 4.7.1"-style code and DSN pair, classes matching */
int	reply_code_valid(const char *code, const char *dsn);

#endif
