/*
 * Unit tests for auth/throttle: growth, cap, decay, per-address and
 * per-account keys, IPv6 /64 grouping, bounded table, and sharing across
 * fork().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/throttle.h"

static struct sockaddr_storage
ip(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return ss;
}

#define SA(ss)	((const struct sockaddr *)&(ss))

static void
test_throttle_grows_and_caps(void **state)
{
	static const unsigned want[] = {
		0, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000
	};
	struct throttle *t = throttle_new_shared(1024);
	struct sockaddr_storage a = ip("192.0.2.7"), b = ip("192.0.2.8");
	uint64_t now = 1000;

	(void)state;
	assert_non_null(t);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now),
		    want[i]);
		throttle_record_failure_at(t, SA(a), NULL, now);
		now += 10;
	}
	/* Another address is unaffected. */
	assert_int_equal(throttle_delay_ms_at(t, SA(b), NULL, now), 0);
	assert_int_equal(throttle_delay_ms_at(t, NULL, NULL, now), 0);
	throttle_free(&t);
	assert_null(t);
}

static void
test_throttle_decays(void **state)
{
	struct throttle *t = throttle_new_shared(1024);
	struct sockaddr_storage a = ip("198.51.100.1");
	uint64_t now = 5000;

	(void)state;
	for (int i = 0; i < 3; i++)
		throttle_record_failure_at(t, SA(a), "x@example.org", now);
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now), 2000);
	/* Still remembered just inside the window... */
	now += THROTTLE_DECAY_SECS;
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now), 2000);
	/* ...forgotten after it, and a new failure starts from the bottom. */
	now += 1;
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now), 0);
	assert_int_equal(throttle_delay_ms_at(t, NULL, "x@example.org", now), 0);
	throttle_record_failure_at(t, SA(a), NULL, now);
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now), 500);
	/* Each failure restarts the window. */
	now += THROTTLE_DECAY_SECS - 1;
	throttle_record_failure_at(t, SA(a), NULL, now);
	now += THROTTLE_DECAY_SECS - 1;
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now), 1000);
	throttle_free(&t);
}

static void
test_throttle_account_key(void **state)
{
	struct throttle *t = throttle_new_shared(1024);
	uint64_t now = 100;

	(void)state;
	/* Failures from many addresses against one account add up. */
	for (int i = 0; i < 4; i++) {
		char text[32];
		struct sockaddr_storage a;

		snprintf(text, sizeof(text), "203.0.113.%d", i + 1);
		a = ip(text);
		throttle_record_failure_at(t, SA(a), "Victim@Example.org", now);
	}
	{
		struct sockaddr_storage fresh = ip("203.0.113.200");

		assert_int_equal(throttle_delay_ms_at(t, SA(fresh),
		    "victim@example.org", now), 4000);
		assert_int_equal(throttle_delay_ms_at(t, SA(fresh),
		    "other@example.org", now), 0);
		/* Success clears the account entirely. */
		throttle_record_success_at(t, SA(fresh), "VICTIM@example.org",
		    now);
		assert_int_equal(throttle_delay_ms_at(t, SA(fresh),
		    "victim@example.org", now), 0);
	}
	throttle_free(&t);
}

static void
test_throttle_success_halves_address(void **state)
{
	struct throttle *t = throttle_new_shared(1024);
	struct sockaddr_storage a = ip("192.0.2.50");
	uint64_t now = 100;

	(void)state;
	for (int i = 0; i < 4; i++)
		throttle_record_failure_at(t, SA(a), "guess@example.org", now);
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now), 4000);
	throttle_record_success_at(t, SA(a), "mine@example.org", now);
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now), 1000);
	throttle_free(&t);
}

static void
test_throttle_ipv6_prefix(void **state)
{
	struct throttle *t = throttle_new_shared(1024);
	struct sockaddr_storage a = ip("2001:db8:1:2::1");
	struct sockaddr_storage same64 = ip("2001:db8:1:2:ffff::9");
	struct sockaddr_storage other64 = ip("2001:db8:1:3::1");
	struct sockaddr_storage v4 = ip("192.0.2.9");
	struct sockaddr_storage mapped = ip("::ffff:192.0.2.9");
	uint64_t now = 100;

	(void)state;
	throttle_record_failure_at(t, SA(a), NULL, now);
	assert_int_equal(throttle_delay_ms_at(t, SA(same64), NULL, now), 500);
	assert_int_equal(throttle_delay_ms_at(t, SA(other64), NULL, now), 0);
	throttle_record_failure_at(t, SA(v4), NULL, now);
	throttle_record_failure_at(t, SA(v4), NULL, now);
	assert_int_equal(throttle_delay_ms_at(t, SA(mapped), NULL, now), 1000);
	throttle_free(&t);
}

static void
test_throttle_table_is_bounded(void **state)
{
	struct throttle *t = throttle_new_shared(64);
	struct sockaddr_storage target = ip("192.0.2.1");
	uint64_t now = 100;

	(void)state;
	throttle_record_failure_at(t, SA(target), NULL, now);
	/* Flood with far more keys than slots, all at later times. */
	for (int i = 0; i < 5000; i++) {
		char text[32];
		struct sockaddr_storage a;

		snprintf(text, sizeof(text), "10.%d.%d.1", i / 256, i % 256);
		a = ip(text);
		throttle_record_failure_at(t, SA(a), NULL, now + 1);
	}
	/* Nothing crashed; the newest keys are tracked. */
	{
		struct sockaddr_storage last = ip("10.19.135.1");

		assert_int_equal(throttle_delay_ms_at(t, SA(last), NULL,
		    now + 1), 500);
	}
	throttle_free(&t);
}

static void
test_throttle_shared_across_fork(void **state)
{
	struct throttle *t = throttle_new_shared(1024);
	struct sockaddr_storage a = ip("192.0.2.77");
	uint64_t now = 100;
	pid_t pids[4];
	int status;

	(void)state;
	for (int i = 0; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			throttle_record_failure_at(t, SA(a), NULL, now);
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* Four failures recorded by four processes. */
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now), 4000);
	/* The real-clock entry points work too. */
	throttle_record_failure(t, NULL, "clock@example.org");
	assert_int_equal(throttle_delay_ms(t, NULL, "clock@example.org"), 500);
	throttle_record_success(t, NULL, "clock@example.org");
	assert_int_equal(throttle_delay_ms(t, NULL, "clock@example.org"), 0);
	throttle_free(&t);
}

/*
 * Turns: ten verdicts booked at the same instant from an address with
 * failures on record are answered one after another, each waiting the
 * delay one connection guessing in turn would have had; then the queue
 * drains and an attempt after it waits only its own delay.
 */
static void
test_throttle_turns_serialise_one_address(void **state)
{
	static const unsigned want[] = {
		/* 3 failures: 2000, then +d(4), +d(5), +d(6) capped ... */
		2000, 6000, 14000, 29000, 44000, 59000, 74000, 89000, 104000,
		119000
	};
	struct throttle *t = throttle_new_shared(1024);
	struct sockaddr_storage a = ip("192.0.2.50"), b = ip("192.0.2.51");
	uint64_t now_ms = 1000 * 1000;

	(void)state;
	for (int i = 0; i < 3; i++)
		throttle_record_failure_at(t, SA(a), NULL, now_ms / 1000);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(throttle_turn_ms_at(t, SA(a), "u@x", now_ms),
		    want[i]);
	/* Another address queues behind nobody. */
	assert_int_equal(throttle_turn_ms_at(t, SA(b), "v@x", now_ms), 0);
	/* Booked turns are not failures: the count is still 3. */
	assert_int_equal(throttle_delay_ms_at(t, SA(a), NULL, now_ms / 1000),
	    2000);
	/* Half-way through the queue, a new attempt waits for its end. */
	assert_int_equal(throttle_turn_ms_at(t, SA(a), NULL,
	    now_ms + 60000), 119000 - 60000 + 15000);
	/* Once every booked verdict is answered: only its own delay. */
	now_ms += 200000;
	assert_int_equal(throttle_turn_ms_at(t, SA(a), NULL, now_ms), 2000);
	throttle_free(&t);
}

/* Without failures nothing queues: shared addresses (NAT) log in freely. */
static void
test_throttle_turns_free_without_failures(void **state)
{
	struct throttle *t = throttle_new_shared(1024);
	struct sockaddr_storage a = ip("2001:db8::1");
	uint64_t now_ms = 5000 * 1000;

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_int_equal(throttle_turn_ms_at(t, SA(a), "w@x", now_ms), 0);
	throttle_record_success_at(t, SA(a), "w@x", now_ms / 1000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(throttle_turn_ms_at(t, SA(a), "w@x", now_ms), 0);
	/* The account's own delay still applies, from any address. */
	throttle_record_failure_at(t, NULL, "w@x", now_ms / 1000);
	assert_int_equal(throttle_turn_ms_at(t, SA(a), "w@x", now_ms), 500);
	assert_int_equal(throttle_turn_ms_at(t, NULL, "w@x", now_ms), 500);
	throttle_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_throttle_grows_and_caps),
		cmocka_unit_test(test_throttle_decays),
		cmocka_unit_test(test_throttle_account_key),
		cmocka_unit_test(test_throttle_success_halves_address),
		cmocka_unit_test(test_throttle_ipv6_prefix),
		cmocka_unit_test(test_throttle_table_is_bounded),
		cmocka_unit_test(test_throttle_shared_across_fork),
		cmocka_unit_test(test_throttle_turns_serialise_one_address),
		cmocka_unit_test(test_throttle_turns_free_without_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
