/*
 * Brute-force throttling of authentication, shared by every worker
 * process. The master creates the table before forking (it lives in a
 * MAP_SHARED anonymous mapping, so all children see one table); each
 * failed login counts against the client's address (IPv4 /32, IPv6 /64,
 * IPv4-mapped IPv6 as IPv4) and, separately, against the account name.
 * The protocol layer waits throttle_delay_ms() before answering every
 * AUTH/PASS/APOP attempt, whether it succeeds or not, so the delay itself
 * tells an attacker nothing.
 *
 * Delay for n recent failures: 0 for n == 0, then 500 ms doubling per
 * failure up to THROTTLE_MAX_DELAY_MS; the larger of the address and the
 * account delay applies. A key's count resets after THROTTLE_DECAY_SECS
 * without a failure. Success resets the account's count and halves the
 * address's (an attacker holding one valid account cannot wipe his record
 * by logging into it between guesses).
 *
 * Turns: login verdicts from one address are answered one after another
 * (throttle_turn_ms). When failures are on record, a verdict booked while
 * another is still waiting for its answer waits for that answer plus the
 * delay it would have had if every verdict queued before it had failed:
 * ten parallel connections then guess exactly as fast as one. Addresses
 * without recent failures queue for nothing.
 *
 * Each slot is three 64-bit atomics updated with compare-and-swap: no
 * locks, so a worker that dies mid-update cannot wedge the others. The
 * table is fixed-size; when a key's few candidate slots are all in use
 * the one with the oldest failure is reused, so memory stays bounded
 * whatever an attacker sends. Usable within one process too (tests).
 */
#ifndef SEALPOST_AUTH_THROTTLE_H
#define SEALPOST_AUTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define THROTTLE_BASE_DELAY_MS	500
#define THROTTLE_MAX_DELAY_MS	15000
#define THROTTLE_DECAY_SECS	(15 * 60)

struct throttle;

/*
 * Maps a table with room for slots keys (0 picks 65536). Returns NULL when
 * mmap fails. Call before fork(); children use the same pointer.
 */
struct throttle	*throttle_new_shared(size_t slots);
/* Unmaps the table in this process and NULLs the pointer. */
void	throttle_free(struct throttle **);

/*
 * Milliseconds to wait before answering the next authentication attempt
 * from ip (may be NULL) for account (may be NULL or empty; compared
 * case-insensitively).
 */
unsigned	throttle_delay_ms(struct throttle *, const struct sockaddr *ip,
	    const char *account);
void	throttle_record_failure(struct throttle *, const struct sockaddr *ip,
	    const char *account);
void	throttle_record_success(struct throttle *, const struct sockaddr *ip,
	    const char *account);

/*
 * Books the next verdict (success or failure) for a login attempt from ip
 * for account and returns the milliseconds to wait before answering it:
 * throttle_delay_ms() when nothing from ip is waiting, else queued behind
 * the verdicts from ip that are (see above). Call it exactly once per
 * attempt, when the verdict is known, and answer after the wait.
 */
unsigned	throttle_turn_ms(struct throttle *, const struct sockaddr *ip,
	    const char *account);
/* The same with an explicit clock in milliseconds (now_ms / 1000 is the
 * clock of the _at functions below), for tests. */
unsigned	throttle_turn_ms_at(struct throttle *, const struct sockaddr *,
	    const char *, uint64_t now_ms);

/* The same with an explicit clock (monotonic seconds), for tests. */
unsigned	throttle_delay_ms_at(struct throttle *, const struct sockaddr *,
	    const char *, uint64_t now);
void	throttle_record_failure_at(struct throttle *, const struct sockaddr *,
	    const char *, uint64_t now);
void	throttle_record_success_at(struct throttle *, const struct sockaddr *,
	    const char *, uint64_t now);

#endif
