/* smtpreply.h - an SMTP reply reader for a client that trusts nobody (see smtpreply.c) */
#ifndef MH_SMTPREPLY_H
#define MH_SMTPREPLY_H

#include <stddef.h>

#define SMTPREPLY_LINE_MAX	2048	/* bytes of one reply line, CRLF included (RFC 5321: 512) */
#define SMTPREPLY_LINES_MAX	64	/* lines of one reply (a 250- EHLO list is ~15) */
#define SMTPREPLY_TEXT_MAX	200	/* bytes of remote text we keep and repeat */

enum smtpreply_status {
	SMTPREPLY_MORE,			/* need more bytes */
	SMTPREPLY_DONE,			/* a whole reply: code and text set */
	SMTPREPLY_ERROR			/* malformed: err says how; nothing more is read */
};

struct smtpreply {
	/* the reply, when DONE */
	int	code;			/* 200..599 */
	char	text[SMTPREPLY_TEXT_MAX + 1];	/* the lines' texts joined by a space, sanitised */
	unsigned lines;
	/* the reader's state */
	char	line[SMTPREPLY_LINE_MAX];
	size_t	linelen;
	size_t	textlen;
	int	error;
	char	err[80];
};

/* smtpreply_init - ready for a reply (also after DONE, for the next one) */
void	smtpreply_init(struct smtpreply *);

/*
 * smtpreply_feed - give it len bytes; *used says how many it took (it
 * stops right after the reply's last line, so bytes of a later reply stay
 * with the caller). A line ends with LF (CR before it is dropped); it is
 * "DDD text", "DDD-text" (more lines follow) or "DDD". The code's first
 * digit is 2..5 and its second 0..5 (RFC 5321 4.2); every line of one
 * reply has the same code. A line longer than SMTPREPLY_LINE_MAX, more
 * than SMTPREPLY_LINES_MAX lines, a NUL byte or anything else malformed
 * is SMTPREPLY_ERROR.
 */
enum smtpreply_status smtpreply_feed(struct smtpreply *, const char *buf, size_t len, size_t *used);

/*
 * smtpreply_sanitise - remote text fit to repeat in a log or a reply:
 * printable ASCII only (other bytes dropped, runs of spaces and tabs made
 * one space, '"' made '\''), at most outlen - 1 bytes, trimmed.
 */
void	smtpreply_sanitise(char *out, size_t outlen, const char *in, size_t inlen);

#endif
