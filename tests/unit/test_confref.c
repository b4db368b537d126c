/*
 * test_confref.c - common/confref.c: the conf in force and the ones still
 * held across reloads; the table's bound. Frees are checked by valgrind
 * and LeakSanitizer in CI (every conf made here must be freed by the
 * module, none twice).
 */
#include "config.h"

#include <stdlib.h>

#include <check.h>

#include "conf.h"
#include "confref.h"

START_TEST(test_install_and_hold)
{
	struct conf *a = conf_defaults(), *b = conf_defaults();
	const struct conf *held, *now;

	ck_assert_ptr_null(confref_current());
	ck_assert_int_eq(confref_install(a), 0);
	held = confref_current();		/* a session that began before the reload */
	ck_assert_ptr_eq(held, a);
	ck_assert_int_eq(confref_install(b), 0);	/* the reload */
	now = confref_current();
	ck_assert_ptr_eq(now, b);
	ck_assert_uint_eq(held->redis_port, 6379);	/* a is alive while held */
	confref_release(held);			/* a freed here */
	confref_release(now);
	confref_release(NULL);
	confref_uninstall();			/* b freed here */
	ck_assert_ptr_null(confref_current());
}
END_TEST

START_TEST(test_track)
{
	struct conf *c = conf_defaults();

	ck_assert_int_eq(confref_track(c), 0);
	confref_hold(c);			/* a job */
	confref_release(c);			/* the daemon lets go */
	ck_assert_uint_eq(c->redis_port, 6379);	/* the job still has it */
	confref_release(c);			/* freed */
}
END_TEST

START_TEST(test_bound)
{
	struct conf *c[CONFREF_MAX + 1];

	for (size_t i = 0; i < CONFREF_MAX; i++) {
		c[i] = conf_defaults();
		ck_assert_int_eq(confref_track(c[i]), 0);
	}
	c[CONFREF_MAX] = conf_defaults();
	ck_assert_int_eq(confref_track(c[CONFREF_MAX]), -1);
	ck_assert_int_eq(confref_install(c[CONFREF_MAX]), -1);
	conf_free(c[CONFREF_MAX]);		/* refused: still the caller's */
	for (size_t i = 0; i < CONFREF_MAX; i++)
		confref_release(c[i]);
	c[0] = conf_defaults();			/* room again */
	ck_assert_int_eq(confref_track(c[0]), 0);
	confref_release(c[0]);
}
END_TEST

int
main(void)
{
	Suite  *s = suite_create("confref");
	TCase  *tc = tcase_create("core");
	SRunner *sr;
	int	failed;

	tcase_add_test(tc, test_install_and_hold);
	tcase_add_test(tc, test_track);
	tcase_add_test(tc, test_bound);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
