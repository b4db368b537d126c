/* daemon.h - what both daemons do at start and exit (see daemon.c) */
#ifndef MH_DAEMON_H
#define MH_DAEMON_H

struct conf;

/* daemon_drop_privileges - become conf->user (after binding); fatal when it cannot */
void	daemon_drop_privileges(const struct conf *);
/* daemon_pidfile_write - write our PID to conf->pidfile ("" = none); a failure is a warning */
void	daemon_pidfile_write(const struct conf *);
/* daemon_pidfile_remove - remove the pidfile daemon_pidfile_write wrote, if any */
void	daemon_pidfile_remove(void);

#endif
