"""Outbound limits (docs/outbound.md "Limits"): connections per
destination domain and messages per minute per domain. Work over a limit
waits in the queue: no attempt is counted, nothing is deferred. A fake
peer counts the sessions open at once."""

import re
import time

import sealpost_harness as H
from relay_support import FakePeer, queue_empty, wait_for

REMOTE = "henry@example.net"


def queue_messages(a, n):
	marks = [H.marker() for _ in range(n)]
	c = a.client(source="127.0.0.2")	# trusted: may relay
	c.ehlo()
	for mk in marks:
		r = c.mail_message("someone@example.org", [REMOTE],
		    H.simple_message(mk, to=REMOTE))
		assert r.code == 250, r
	c.quit()
	return marks


def test_relay_per_domain_connection_limit(make_instance):
	peer = FakePeer()
	peer.delay = 0.4	# each transaction holds its connection a while
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" %
		    peer.port, "queue_scan_interval": "1",
		    "relay_max_per_domain": "2"})
		queue_messages(a, 8)
		assert wait_for(lambda: len(peer.transactions) >= 8, 30), \
		    a.log_tail()
		assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
		print("\nmost sessions open at once: %d" % peer.max_open)
		assert peer.max_open == 2, peer.max_open
		assert peer.max_busy == 2, peer.max_busy
		# Later messages went over the two open connections (RSET).
		assert peer.attempts < 8, peer.attempts
		assert "event=delivered" in a.log()
		assert "event=deferred" not in a.log()
	finally:
		peer.stop()


def test_relay_total_connection_limit(make_instance):
	peer = FakePeer()
	peer.delay = 0.4
	try:
		a = make_instance({"transport": "*=[127.0.0.1]:%d" % peer.port,
		    "queue_scan_interval": "1", "relay_max_connections": "3"})
		c = a.client(source="127.0.0.2")
		c.ehlo()
		for i in range(9):
			rc = "x%d@d%d.example.org" % (i, i)
			r = c.mail_message("someone@example.org", [rc],
			    H.simple_message(H.marker(), to=rc))
			assert r.code == 250, r
		c.quit()
		assert wait_for(lambda: len(peer.transactions) >= 9, 30), \
		    a.log_tail()
		# Idle connections of other domains give way to waiting
		# work; the one closed for room may still be saying QUIT
		# while its successor connects.
		# The limit holds; that work overlapped at all depends on timing.
		assert 2 <= peer.max_busy <= 3, peer.max_busy
		assert peer.max_open <= 4, peer.max_open
	finally:
		peer.stop()


def test_relay_rate_per_domain_holds_messages_back(make_instance):
	peer = FakePeer()
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" %
		    peer.port, "queue_scan_interval": "1",
		    "relay_rate_per_domain": "2"})
		queue_messages(a, 4)
		assert wait_for(lambda: len(peer.transactions) >= 2, 15), \
		    a.log_tail()
		# A minute's worth (2) went out at once; the rest waits for
		# tokens (one every 30 s) without any attempt being counted.
		time.sleep(3 * H.SLOW)
		assert len(peer.transactions) == 2, peer.transactions
		assert "event=deferred" not in a.log()
		listing = a.cli("queue", "list").stdout.decode()
		assert len(re.findall(r"attempts=0", listing)) == 2, listing
	finally:
		peer.stop()


def test_relay_reuses_idle_connection_then_closes_it(make_instance):
	"""Messages for one domain share one connection (RSET between them);
	an idle connection is closed after a few seconds."""
	peer = FakePeer()
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" %
		    peer.port, "queue_scan_interval": "1",
		    "relay_max_per_domain": "1"})
		queue_messages(a, 5)
		assert wait_for(lambda: len(peer.transactions) >= 5, 20), \
		    a.log_tail()
		assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
		assert peer.attempts == 1, peer.attempts
		assert peer.mails == 5 and peer.rsets == 4, (peer.mails,
		    peer.rsets)
		# Idle for RUNNER_IDLE (5 s), then QUIT.
		assert wait_for(lambda: peer.open == 0, 10 * H.SLOW)
	finally:
		peer.stop()
