/*
 * log.c - one-line event logging in Postfix's style.
 *
 * Daemons log to syslog (facility from the `syslog_facility` setting,
 * default mail) with the program name as ident, or to stderr when run in
 * the foreground (-f).  Command-line tools log to stderr.  Levels follow
 * Postfix util/msg.c: info, warning (odd, carried on), error, fatal
 * (cannot start; exits with the given status), panic (our own bug; aborts).
 * Text from outside must go through log_printable() before it is logged.
 *
 * Public functions: log_open, log_close, log_facility_parse, msg_info,
 * msg_warn, msg_error, msg_fatal, msg_panic, log_printable.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

int msg_verbose;

static const char *log_progname = "mhkit";
static int log_to_stderr = 1;
static int log_syslog_open;

static const struct {
	const char *name;
	int	facility;
} log_facilities[] = {
	{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
	{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

/* log_facility_parse - syslog facility by name, -1 when unknown */
int
log_facility_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcmp(log_facilities[i].name, name) == 0)
			return log_facilities[i].facility;
	return -1;
}

/* log_open - choose stderr (foreground) or syslog for what follows */
void
log_open(const char *progname, int foreground, const char *facility)
{
	int	fac;

	if (progname != NULL) {
		const char *slash = strrchr(progname, '/');

		log_progname = slash ? slash + 1 : progname;
	}
	log_to_stderr = foreground;
	if (!foreground) {
		fac = facility ? log_facility_parse(facility) : LOG_MAIL;
		if (fac < 0)
			fac = LOG_MAIL;
		if (log_syslog_open)
			closelog();
		openlog(log_progname, LOG_PID | LOG_NDELAY, fac);
		log_syslog_open = 1;
	}
}

/* log_close - release syslog */
void
log_close(void)
{
	if (log_syslog_open)
		closelog();
	log_syslog_open = 0;
}

void
log_set_verbose(int level)
{
	msg_verbose = level;
}

static const char *const log_level_names[] = {
	[LOG_LEVEL_INFO] = "",
	[LOG_LEVEL_WARNING] = "warning: ",
	[LOG_LEVEL_ERROR] = "error: ",
	[LOG_LEVEL_FATAL] = "fatal: ",
	[LOG_LEVEL_PANIC] = "panic: ",
};

static const int log_level_prio[] = {
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_WARNING] = LOG_WARNING,
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_FATAL] = LOG_CRIT,
	[LOG_LEVEL_PANIC] = LOG_CRIT,
};

/* msg_vlog - format and emit one line */
void
msg_vlog(enum log_level level, const char *fmt, va_list ap)
{
	char	line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_to_stderr || !log_syslog_open)
		fprintf(stderr, "%s: %s%s\n", log_progname, log_level_names[level], line);
	else
		syslog(log_level_prio[level], "%s%s", log_level_names[level], line);
}

void
msg_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	msg_vlog(LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

void
msg_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	msg_vlog(LOG_LEVEL_WARNING, fmt, ap);
	va_end(ap);
}

void
msg_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	msg_vlog(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
}

void
msg_fatal(int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	msg_vlog(LOG_LEVEL_FATAL, fmt, ap);
	va_end(ap);
	exit(status);
}

void
msg_panic(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	msg_vlog(LOG_LEVEL_PANIC, fmt, ap);
	va_end(ap);
	abort();
}

/*
 * log_printable - copy untrusted text for logging or replies: at most
 * dstlen - 1 bytes, CR/LF/control/8-bit bytes replaced by '?'.
 */
char   *
log_printable(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t	n = 0;

	if (dstlen == 0)
		return dst;
	for (size_t i = 0; i < srclen && n + 1 < dstlen; i++) {
		unsigned char c = (unsigned char) src[i];

		dst[n++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
	}
	dst[n] = 0;
	return dst;
}
