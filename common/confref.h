/* confref.h - reference-counted configurations across reloads (see confref.c) */
#ifndef MH_CONFREF_H
#define MH_CONFREF_H

struct conf;

#define CONFREF_MAX	64		/* configurations alive at once (reload storms) */

/* confref_track - count holders of a newly loaded conf: one, the caller; -1 when CONFREF_MAX are alive */
int	confref_track(struct conf *);
/* confref_hold - one more holder of a tracked conf */
void	confref_hold(const struct conf *);
/* confref_release - one holder less; the last one frees the conf. NULL is fine */
void	confref_release(const struct conf *);

/* confref_install - conf (tracked here) is in force; the one it replaces loses that hold. -1 when full */
int	confref_install(struct conf *);
/* confref_current - the conf in force, held (confref_release it); NULL when none */
const struct conf *confref_current(void);
/* confref_uninstall - none in force any more (at exit): the last one's hold dropped */
void	confref_uninstall(void);

#endif
