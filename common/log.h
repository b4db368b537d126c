/* log.h - logging in Postfix's style (see log.c) */
#ifndef MH_LOG_H
#define MH_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_FATAL,
	LOG_LEVEL_PANIC
};

void	log_open(const char *progname, int foreground, const char *facility);
void	log_close(void);
int	log_facility_parse(const char *name);
void	log_set_verbose(int level);
extern int msg_verbose;

void	msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	msg_fatal(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	msg_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	msg_vlog(enum log_level, const char *fmt, va_list) __attribute__((format(printf, 2, 0)));

/* printable - copy at most max bytes of untrusted text into dst, made printable */
char   *log_printable(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
