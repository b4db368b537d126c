/*
 * daemon.c - what mhpolicyd and mhmilter both do at start and exit:
 * dropping root for the `user` setting once their sockets are bound, and
 * the pidfile (`pidfile` setting).
 *
 * Public functions: daemon_drop_privileges, daemon_pidfile_write,
 * daemon_pidfile_remove.
 *
 * Failures: an unknown user, or one we cannot become, is fatal (EX_CONFIG,
 * EX_NOPERM, EX_OSERR: a daemon must never go on as root by accident); a
 * pidfile that cannot be written is a warning.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"

static char daemon_pidfile[CONF_STR_MAX + 1];	/* written at start, removed at exit */

/*
 * daemon_drop_privileges - setgid, initgroups, setuid to conf->user;
 * checked. Started as root with no `user`: refused (EX_CONFIG); a `user`
 * whose uid is 0 (root, named on purpose) keeps root, with a warning.
 */
void
daemon_drop_privileges(const struct conf *conf)
{
	struct passwd *pw;

	if (*conf->user == 0) {
		if (geteuid() == 0)
			msg_fatal(EX_CONFIG, "%s: started as root without `user`: set it to the account to "
				  "run as (user = \"root\" to stay root on purpose)", conf->path);
		return;
	}
	if ((pw = getpwnam(conf->user)) == NULL)
		msg_fatal(EX_CONFIG, "%s: user: no such user \"%s\"", conf->path, conf->user);
	if (pw->pw_uid == 0) {		/* asked for by name: nothing to drop */
		if (geteuid() != 0)
			msg_fatal(EX_NOPERM, "user %s: need to start as root to become it", conf->user);
		msg_warn("running as root (%s: user = \"%s\")", conf->path, conf->user);
		return;
	}
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			msg_fatal(EX_NOPERM, "user %s: need to start as root to become it", conf->user);
		return;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0
	    || setuid(pw->pw_uid) < 0)
		msg_fatal(EX_OSERR, "cannot become user %s: %s", conf->user, strerror(errno));
	if (setuid(0) == 0)
		msg_fatal(EX_SOFTWARE, "privileges could be regained after dropping them");
}

/* daemon_pidfile_write - our PID, one line */
void
daemon_pidfile_write(const struct conf *conf)
{
	FILE   *fp;

	if (*conf->pidfile == 0)
		return;
	if ((fp = fopen(conf->pidfile, "w")) == NULL) {
		msg_warn("pidfile %s: %s", conf->pidfile, strerror(errno));
		return;
	}
	fprintf(fp, "%ld\n", (long) getpid());
	fclose(fp);
	snprintf(daemon_pidfile, sizeof(daemon_pidfile), "%s", conf->pidfile);
}

/* daemon_pidfile_remove - at exit */
void
daemon_pidfile_remove(void)
{
	if (*daemon_pidfile && unlink(daemon_pidfile) < 0 && errno != ENOENT)
		msg_warn("pidfile %s: %s", daemon_pidfile, strerror(errno));
	daemon_pidfile[0] = 0;
}
