"""Overload and hostile clients (issue 6): slowloris, a connection flood
beyond max_sessions (and the server's memory with many idle
connections), and pipelining abuse. Connections come from several
127.x source addresses, so per-IP limits apply to each."""

import socket
import threading
import time

import sealpost_harness as H
from rel_support import LONG, raise_nofile, rss, send_one

MB = 1 << 20


def open_idle(port, n, sources, read_greeting=True):
	"""n connections spread over the source addresses; each has read its
	greeting (so the server has set up its session)."""
	socks = []
	for i in range(n):
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		s.bind((sources[i % len(sources)], 0))
		s.settimeout(30 * H.SLOW)
		s.connect(("127.0.0.1", port))
		socks.append(s)
	if read_greeting:
		for s in socks:
			g = s.recv(512)
			assert g.startswith(b"220 "), g
	return socks


def close_all(socks):
	for s in socks:
		try:
			s.close()
		except OSError:
			pass


def timed_transaction(inst, source=None):
	t0 = time.monotonic()
	code = send_one(inst.smtp, H.marker(), source=source, timeout=10)
	return code, time.monotonic() - t0


def test_overload_slowloris(make_instance):
	n = 1000 if LONG else 300
	per_ip = 100
	sources = ["127.0.3.%d" % (i + 1) for i in range((n + per_ip - 1) // per_ip)]
	raise_nofile()
	inst = make_instance({"max_sessions": str(n + 100),
	    "max_sessions_per_ip": str(per_ip), "timeout_command": "20"},
	    name="slowloris")
	socks = open_idle(inst.smtp, n, sources)
	stop = threading.Event()
	dripped = [0]

	def drip():
		# One byte of an endless EHLO line per connection every 2 s.
		text = b"EHLO " + b"s" * 10000
		i = 0
		while not stop.is_set():
			for s in socks:
				try:
					s.send(text[i % len(text):i % len(text) + 1])
					dripped[0] += 1
				except OSError:
					pass
			i += 1
			stop.wait(2)

	t = threading.Thread(target=drip)
	t.start()
	try:
		times = []
		for _ in range(5):
			code, dt = timed_transaction(inst)
			assert code == 250
			times.append(dt)
			time.sleep(1)
		# The per-IP limit still holds for a slow client's address.
		extra = H.SmtpClient(inst.smtp, source=sources[0], greet=False)
		r = extra.reply()
		assert r.is_(421, "4.7.0"), r
		extra.close()
	finally:
		stop.set()
		t.join()
		close_all(socks)
	print("\nslowloris: %d slow connections, normal transactions took "
	    "max %.3f s (median %.3f s)" % (n, max(times), sorted(times)[2]))
	assert max(times) < 2.0 * H.SLOW, times


def test_overload_flood_beyond_max_sessions_and_rss(make_instance):
	n = 10000 if LONG else 2000
	per_ip = 500
	sources = ["127.0.4.%d" % (i + 1) for i in range((n + per_ip - 1) // per_ip)]
	limit = raise_nofile()
	assert limit >= n + 200, "RLIMIT_NOFILE hard limit %d < %d" % (limit, n + 200)
	inst = make_instance({"max_sessions": str(n), "max_sessions_per_ip": str(per_ip),
	    "workers": "2"}, name="flood")
	time.sleep(0.5)
	base = rss(inst)
	socks = []
	try:
		t0 = time.monotonic()
		socks = open_idle(inst.smtp, n, sources)
		t_open = time.monotonic() - t0
		full = rss(inst)
		# Beyond max_sessions: refused at once with 421 4.7.0.
		refused = []
		for i in range(20):
			t0 = time.monotonic()
			c = H.SmtpClient(inst.smtp, source="127.0.5.%d" % (i + 1), greet=False)
			r = c.reply()
			refused.append(time.monotonic() - t0)
			assert r.is_(421, "4.7.0"), r
			c.expect_closed(timeout=5)
		# A session is still a session: one ends, a newcomer gets in.
		socks.pop().close()
		deadline = time.monotonic() + 5 * H.SLOW
		while True:
			code, _ = timed_transaction(inst, source="127.0.5.99")
			if code == 250 or time.monotonic() > deadline:
				break
			time.sleep(0.1)
		assert code == 250, code
	finally:
		close_all(socks)
	per_conn = (full - base) / n
	print("\nflood: %d idle connections opened in %.1f s; RSS %.1f MB -> "
	    "%.1f MB (%.1f KB per connection); refusals beyond max_sessions "
	    "took max %.1f ms" % (n, t_open, base / MB, full / MB,
	    per_conn / 1024, 1000 * max(refused)))
	assert max(refused) < 1.0 * H.SLOW
	if not H.SANITIZED:
		assert per_conn < 64 * 1024, per_conn


def test_overload_pipelining_abuse_is_bounded(make_instance):
	"""A client that pipelines NOOPs and never reads: the server stops
	reading from it once its replies pile up, so what it accepts (and
	its memory) stays bounded while we try to push 64 MB."""
	inst = make_instance({"workers": "1"}, name="pipeline")
	time.sleep(0.3)
	base = rss(inst)
	s = socket.create_connection(("127.0.0.1", inst.smtp))
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
	s.recv(512)
	chunk = b"NOOP\r\n" * 10000
	sent = 0
	s.settimeout(3 * H.SLOW)
	try:
		while sent < 64 * MB:
			sent += s.send(chunk)
	except socket.timeout:
		pass
	peak = rss(inst)
	s.close()
	print("\npipelining: the server stopped reading after %.1f MB of "
	    "pipelined NOOPs; RSS %.1f -> %.1f MB" % (sent / MB, base / MB, peak / MB))
	assert sent < 64 * MB, "the server read 64 MB of unanswered commands"
	assert peak - base < 16 * MB, (base, peak)
	# And the server is still fine for others.
	assert send_one(inst.smtp, H.marker()) == 250
