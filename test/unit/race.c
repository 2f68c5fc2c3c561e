/* Owns the forked-process races the unit tests share (see race.h). */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "test/unit/race.h"

#define RACE_LIMIT_S	60

/* Sleep-poll until *counter reaches want; fail the test after the limit. */
static void
race_wait(_Atomic int *counter, int want)
{
	for (long i = 0; atomic_load(counter) < want; i++) {
		if (i > RACE_LIMIT_S * 10000L)
			fail_msg("racers stuck: %d of %d", atomic_load(counter),
			    want);
		usleep(100);
	}
}

struct race *
race_new(void)
{
	struct race *rc = mmap(NULL, sizeof(*rc), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (rc == MAP_FAILED)
		fail_msg("mmap");
	return rc;	/* zero: no one ready, round -1 not started */
}

void
race_free(struct race *rc)
{
	munmap(rc, sizeof(*rc));
}

/*
 * One racer, round after round: wait until the parent has set the round
 * up, arrive at the barrier, spin until the last to arrive opens it (that
 * one is on a CPU, and so is every other spinner that has one: no
 * sleeping parent has to be scheduled first), run fn, report done.
 */
static void
race_child(struct race *rc, int k, int n, int rounds, race_fn fn, void *arg)
{
	alarm(RACE_LIMIT_S);	/* never outlive a parent that failed */
	for (int r = 0; r < rounds; r++) {
		while (atomic_load(&rc->armed) != r + 1)
			sched_yield();
		if (atomic_fetch_add(&rc->ready, 1) + 1 == n * (r + 1))
			atomic_store(&rc->go, r + 1);
		while (atomic_load(&rc->go) != r + 1)
			;
		if (fn(k, r, arg) != 0)
			atomic_fetch_add(&rc->failed, 1);
		atomic_fetch_add(&rc->done, 1);
	}
	_exit(0);
}

void
race_run(struct race *rc, int n, int rounds, race_fn fn,
    void (*before)(int r, void *arg), int (*check)(int r, void *arg),
    void *arg)
{
	pid_t pids[64];
	int status, bad_rounds = 0, first_bad = -1;

	assert_true(n > 0 && n <= 64);
	atomic_store(&rc->armed, 0);
	atomic_store(&rc->go, 0);
	atomic_store(&rc->ready, 0);
	atomic_store(&rc->done, 0);
	for (int k = 0; k < n; k++) {
		if ((pids[k] = fork()) == 0)
			race_child(rc, k, n, rounds, fn, arg);
		assert_true(pids[k] > 0);
	}
	for (int r = 0; r < rounds; r++) {
		if (before != NULL)
			before(r, arg);
		atomic_store(&rc->armed, r + 1);
		race_wait(&rc->done, n * (r + 1));
		/* Checked after the join: a failed assertion here would
		 * leave the racers spinning. */
		if (check != NULL && check(r, arg) != 0 && bad_rounds++ == 0)
			first_bad = r;
	}
	for (int k = 0; k < n; k++) {
		assert_true(waitpid(pids[k], &status, 0) == pids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(atomic_load(&rc->failed), 0);
	if (bad_rounds > 0)
		fail_msg("%d of %d rounds wrong, the first: round %d", bad_rounds,
		    rounds, first_bad);
}
