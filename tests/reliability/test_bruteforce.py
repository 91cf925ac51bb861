"""Brute force (issue 6): many wrong passwords from one address over SMTP
AUTH (port 465) and POP3 (995), from THREADS parallel connections, are
throttled; the achieved guesses per second are measured and printed, and
must not beat what ONE connection guessing in turn would get (verdicts
from one address take turns: auth/throttle.h). Meanwhile a login from another address
stays fast. Then account enumeration by timing: the distribution of
failure response times for existing and non-existing names, each
attempt from a fresh address (so no throttling delay applies), is
compared; only a loose bound is asserted (docs/testing.md)."""

import socket
import ssl
import statistics
import threading
import time

import pytest

import sealpost_harness as H
from rel_support import LONG, percentile

DURATION = 30.0 if LONG else 6.0
THREADS = 10
ALICE = "alice@example.test"
BOB = "bob@example.test"


def smtp_auth(inst, user, password, source, timeout):
	c = H.SmtpClient(inst.submissions, source=source, tls=True,
	    cafile=inst.cert, timeout=timeout / H.SLOW)
	try:
		c.ehlo()
		t0 = time.monotonic()
		r = c.auth_plain(user, password)
		return r.code, time.monotonic() - t0
	finally:
		c.close()


def pop3_auth(inst, user, password, source, timeout):
	ctx = ssl.create_default_context(cafile=inst.cert)
	raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	raw.bind((source, 0))
	raw.settimeout(timeout)
	raw.connect(("127.0.0.1", inst.ports["pop3s"]))
	s = ctx.wrap_socket(raw, server_hostname=H.HOSTNAME)
	f = s.makefile("rb")
	try:
		assert f.readline().startswith(b"+OK")
		t0 = time.monotonic()
		s.sendall(("USER %s\r\n" % user).encode())
		f.readline()
		s.sendall(("PASS %s\r\n" % password).encode())
		line = f.readline()
		return (250 if line.startswith(b"+OK") else 535), time.monotonic() - t0
	finally:
		s.close()


def attack(fn, inst, user, source):
	"""THREADS parallel guessers for DURATION seconds; returns the number
	of wrong-password replies received within the window."""
	end = time.monotonic() + DURATION
	count = [0]
	lock = threading.Lock()

	def guesser(k):
		i = 0
		while True:
			left = end - time.monotonic()
			if left <= 0:
				return
			try:
				code, _ = fn(inst, user, "wrong-%d-%d" % (k, i), source, left + 0.5)
			except (OSError, H.Closed, AssertionError):
				continue
			i += 1
			if time.monotonic() <= end and code != 250:
				with lock:
					count[0] += 1

	threads = [threading.Thread(target=guesser, args=(k,)) for k in range(THREADS)]
	for t in threads:
		t.start()
	return threads, count


def serial_guesses(duration):
	"""Wrong guesses one connection gets in duration seconds: the
	throttle's delays (auth/throttle.h: 0, then 500 ms doubling, capped at
	15 s) one after another."""
	t, n = 0.0, 0
	while True:
		d = 0.0 if n == 0 else min(0.5 * 2 ** (n - 1), 15.0)
		if t + d > duration:
			return n
		t += d
		n += 1


@pytest.mark.parametrize("proto", ["smtp", "pop3"])
def test_bruteforce_throttled_other_ip_fast(make_instance, proto):
	inst = make_instance({"workers": "2"}, name="brute-" + proto)
	fn = smtp_auth if proto == "smtp" else pop3_auth
	# Unthrottled baseline: a wrong password for a fresh name from a
	# fresh address (names count failures too).
	base = [fn(inst, "base%d@example.test" % i, "wrong", "127.0.8.%d" % (i + 1),
	    10 * H.SLOW)[1] for i in range(3)]
	threads, count = attack(fn, inst, BOB, "127.0.6.1")
	time.sleep(min(3.0, DURATION / 2))
	other = []
	for i in range(3):
		code, dt = fn(inst, ALICE, H.USERS[ALICE], "127.0.6.2", 10 * H.SLOW)
		assert code in (235, 250), code
		other.append(dt)
	for t in threads:
		t.join()
	rate = count[0] / DURATION
	unthrottled = 1.0 / max(statistics.median(base), 1e-3)
	print("\nbruteforce %s: %d wrong guesses in %.0f s from one address with "
	    "%d parallel connections = %.2f guesses/s (one unthrottled failure "
	    "takes %.0f ms, i.e. %.0f/s per connection); another address's "
	    "login took max %.0f ms meanwhile" % (proto, count[0], DURATION,
	    THREADS, rate, 1000 * statistics.median(base), unthrottled,
	    1000 * max(other)))
	# Parallel connections gain nothing over one guessing in turn (a
	# little slack for replies at the window's edges).
	assert count[0] <= serial_guesses(DURATION) + 2, (count[0],
	    serial_guesses(DURATION))
	assert max(other) < 1.0 * H.SLOW, other


@pytest.mark.nosan
def test_bruteforce_timing_known_vs_unknown_names(make_instance):
	n = 30 if LONG else 8
	inst = make_instance({"workers": "2"}, name="enum")
	# Fresh names per attempt: a name's failures count too.
	known = ["user%02d@example.test" % i for i in range(2 * n)]
	for u in known:
		inst.cli("user", "add", u, "--password-stdin", input=b"Secret-pw-1\n")
	time.sleep(2.5)	# the workers re-read the account files every 2 s
	unknown = ["nouser%02d@example.test" % i for i in range(2 * n)]
	times = {"smtp": {"known": [], "unknown": []},
	    "pop3": {"known": [], "unknown": []}}
	addr = 0
	for j, (proto, fn) in enumerate((("smtp", smtp_auth), ("pop3", pop3_auth))):
		for i in range(j * n, (j + 1) * n):
			for kind, user in (("known", known[i]), ("unknown", unknown[i])):
				addr += 1
				src = "127.0.9.%d" % addr if addr < 255 else "127.0.10.%d" % (addr - 254)
				code, dt = fn(inst, user, "wrong-password", src, 10)
				assert code not in (235, 250)
				times[proto][kind].append(dt)
	for proto in ("smtp", "pop3"):
		k, u = times[proto]["known"], times[proto]["unknown"]
		mk, mu = statistics.median(k), statistics.median(u)
		print("\ntiming %s: known names median %.1f ms (p10 %.1f, p90 %.1f), "
		    "unknown names median %.1f ms (p10 %.1f, p90 %.1f), n=%d each" % (
		    proto, 1000 * mk, 1000 * percentile(k, 10), 1000 * percentile(k, 90),
		    1000 * mu, 1000 * percentile(u, 10), 1000 * percentile(u, 90), n))
		assert abs(mk - mu) < max(0.05, 0.5 * max(mk, mu)), times[proto]
