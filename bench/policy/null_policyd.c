/*
 * null_policyd.c - the ceiling: a policy server that decides nothing.
 *
 * One thread, epoll (level-triggered), non-blocking sockets. Reads
 * requests up to the empty line, checks each line is NAME=VALUE and the
 * request is at most NULL_REQUEST_MAX bytes, and answers
 * "action=DUNNO\n\n" to each; pipelined requests are answered in order.
 * A malformed request closes the connection. No Redis, no DNS, no logs.
 *
 * usage: null_policyd inet:HOST:PORT | HOST:PORT | unix:PATH
 * Runs until SIGTERM or SIGINT; exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define NULL_REQUEST_MAX	(16 * 1024)
#define NULL_OUT_MAX		(4 * 1024)
#define REPLY			"action=DUNNO\n\n"

struct client {
	int	fd;
	size_t	len;			/* bytes in buf */
	size_t	scanned;		/* bytes of buf already checked */
	size_t	line_start;
	size_t	olen, opos;		/* pending output */
	char	buf[NULL_REQUEST_MAX];
	char	out[NULL_OUT_MAX];
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

static void
client_close(int epfd, struct client *c)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* client_parse - answer every complete request in buf; -1 on a bad one */
static int
client_parse(struct client *c)
{
	size_t	i = c->scanned;

	for (; i < c->len; i++) {
		if (c->buf[i] != '\n')
			continue;
		if (i == c->line_start) {		/* the empty line: a request */
			if (c->olen + sizeof(REPLY) - 1 > NULL_OUT_MAX)
				return -1;
			memcpy(c->out + c->olen, REPLY, sizeof(REPLY) - 1);
			c->olen += sizeof(REPLY) - 1;
			memmove(c->buf, c->buf + i + 1, c->len - i - 1);
			c->len -= i + 1;
			i = (size_t) -1;		/* restart at 0 */
			c->line_start = 0;
			continue;
		}
		if (memchr(c->buf + c->line_start, '=', i - c->line_start) == NULL)
			return -1;
		c->line_start = i + 1;
	}
	c->scanned = c->len;
	return 0;
}

/* client_flush - write what is pending; 1 if some remains */
static int
client_flush(struct client *c)
{
	while (c->opos < c->olen) {
		ssize_t	n = write(c->fd, c->out + c->opos, c->olen - c->opos);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n < 0)
			return -1;
		c->opos += (size_t) n;
	}
	c->olen = c->opos = 0;
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int	family, lfd, epfd, one = 1;
	const char *a;

	if (argc != 2) {
		fprintf(stderr, "usage: null_policyd inet:HOST:PORT | unix:PATH\n");
		return 2;
	}
	a = argv[1];
	memset(&ss, 0, sizeof(ss));
	if (strncmp(a, "unix:", 5) == 0 || a[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *) &ss;

		a += a[0] == '/' ? 0 : 5;
		if (strlen(a) >= sizeof(un->sun_path))
			return fprintf(stderr, "null_policyd: path too long\n"), 1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, a);
		unlink(a);
		family = AF_UNIX;
		sslen = sizeof(*un);
	} else {
		char	host[256];
		const char *colon;
		struct addrinfo hints = {0}, *res;

		if (strncmp(a, "inet:", 5) == 0)
			a += 5;
		colon = strrchr(a, ':');
		if (colon == NULL || colon == a || (size_t) (colon - a) >= sizeof(host))
			return fprintf(stderr, "null_policyd: bad address %s\n", argv[1]), 2;
		memcpy(host, a, (size_t) (colon - a));
		host[colon - a] = 0;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
		if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
			return fprintf(stderr, "null_policyd: bad address %s\n", argv[1]), 2;
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		sslen = res->ai_addrlen;
		family = res->ai_family;
		freeaddrinfo(res);
	}

	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	if ((lfd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return perror("socket"), 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *) &ss, sslen) < 0 || listen(lfd, 4096) < 0)
		return perror("bind/listen"), 1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return perror("epoll_create1"), 1;

	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	while (!stop) {
		struct epoll_event evs[256];
		int	n = epoll_wait(epfd, evs, 256, 500);

		if (n < 0 && errno != EINTR)
			return perror("epoll_wait"), 1;
		for (int i = 0; i < n; i++) {
			struct client *c = evs[i].data.ptr;

			if (c == NULL) {		/* the listener */
				int	fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if ((c = calloc(1, sizeof(*c))) == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					if (family != AF_UNIX)
						setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};

					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
				}
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				int	r = client_flush(c);

				if (r < 0) {
					client_close(epfd, c);
					continue;
				}
				if (r == 0) {
					struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};

					epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &cev);
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				ssize_t	r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r <= 0 || (c->len += (size_t) r, client_parse(c) < 0)
				    || c->len == sizeof(c->buf)) {
					client_close(epfd, c);
					continue;
				}
				int	fl = client_flush(c);

				if (fl < 0) {
					client_close(epfd, c);
					continue;
				}
				if (fl > 0) {
					struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

					epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &cev);
				}
			}
		}
	}
	close(lfd);
	if (family == AF_UNIX)
		unlink(((struct sockaddr_un *) &ss)->sun_path);
	return 0;
}
