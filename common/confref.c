/*
 * confref.c - the configurations a daemon has alive: the one in force,
 * and those still held by work that began before a reload (an SMTP
 * session in mhmilter, a policy job in mhpolicyd). Each is freed by its
 * last holder, so a reload never changes the settings under work in
 * progress. A table of CONFREF_MAX entries behind one mutex (mhmilter's
 * threads; uncontended in mhpolicyd's single thread): a reload storm
 * that would keep more alive is refused by the caller.
 *
 * Public functions: confref_track, confref_hold, confref_release,
 * confref_install, confref_current, confref_uninstall.
 *
 * Holding or releasing a conf that is not tracked is a bug: msg_panic.
 */
#include "config.h"

#include <pthread.h>
#include <stddef.h>

#include "conf.h"
#include "confref.h"
#include "log.h"

static pthread_mutex_t confref_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct conf *conf;
	unsigned refs;
} confref_table[CONFREF_MAX];
static struct conf *confref_now;	/* in force (holds one reference) */

/* confref_find - the entry of conf; the caller has the lock */
static size_t
confref_find(const struct conf *conf, const char *who)
{
	for (size_t i = 0; i < CONFREF_MAX; i++)
		if (confref_table[i].conf == conf)
			return i;
	msg_panic("%s: untracked configuration", who);
}

/* confref_unref - one holder less; the caller has the lock */
static void
confref_unref(const struct conf *conf)
{
	size_t	i = confref_find(conf, "confref_release");

	if (--confref_table[i].refs == 0) {
		conf_free(confref_table[i].conf);
		confref_table[i].conf = NULL;
	}
}

/* confref_add - a free entry for conf with one holder; the caller has the lock */
static int
confref_add(struct conf *conf)
{
	for (size_t i = 0; i < CONFREF_MAX; i++) {
		if (confref_table[i].conf == NULL) {
			confref_table[i].conf = conf;
			confref_table[i].refs = 1;
			return 0;
		}
	}
	return -1;
}

int
confref_track(struct conf *conf)
{
	int	rc;

	pthread_mutex_lock(&confref_lock);
	rc = confref_add(conf);
	pthread_mutex_unlock(&confref_lock);
	return rc;
}

void
confref_hold(const struct conf *conf)
{
	pthread_mutex_lock(&confref_lock);
	confref_table[confref_find(conf, "confref_hold")].refs++;
	pthread_mutex_unlock(&confref_lock);
}

void
confref_release(const struct conf *conf)
{
	if (conf == NULL)
		return;
	pthread_mutex_lock(&confref_lock);
	confref_unref(conf);
	pthread_mutex_unlock(&confref_lock);
}

int
confref_install(struct conf *conf)
{
	pthread_mutex_lock(&confref_lock);
	if (confref_add(conf) < 0) {
		pthread_mutex_unlock(&confref_lock);
		return -1;
	}
	if (confref_now)
		confref_unref(confref_now);
	confref_now = conf;
	pthread_mutex_unlock(&confref_lock);
	return 0;
}

const struct conf *
confref_current(void)
{
	struct conf *conf;

	pthread_mutex_lock(&confref_lock);
	if ((conf = confref_now) != NULL)
		confref_table[confref_find(conf, "confref_current")].refs++;
	pthread_mutex_unlock(&confref_lock);
	return conf;
}

void
confref_uninstall(void)
{
	pthread_mutex_lock(&confref_lock);
	if (confref_now)
		confref_unref(confref_now);
	confref_now = NULL;
	pthread_mutex_unlock(&confref_lock);
}
