"""kill -9 of the whole server while the queue runner is delivering about
100 messages, then a restart: every message arrives at least once."""

import collections
import re

import sealpost_harness as H
from relay_support import FakePeer, queue_empty, wait_for

REMOTE = "frank@example.net"
N = 100


def test_relay_kill9_during_delivery_loses_nothing(make_instance):
	open_for_business = {"yes": False}
	peer = FakePeer(rcpt_answer=lambda rcpt, n: "250 2.1.5 ok"
	    if open_for_business["yes"] else "451 4.3.2 not yet")
	peer.delay = 0.3
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" %
		    peer.port, "queue_scan_interval": "1",
		    "queue_retry_schedule": "1s"})
		marks = [H.marker() for _ in range(N)]
		c = a.client(source="127.0.0.2")	# trusted: may relay
		c.ehlo()
		for mk in marks:
			r = c.mail_message("someone@example.org", [REMOTE],
			    H.simple_message(mk, to=REMOTE))
			assert r.code == 250, r
		c.quit()
		open_for_business["yes"] = True
		assert wait_for(lambda: len(peer.transactions) >= N // 5, 30), \
		    a.log_tail()
		a.kill9()
		before = len(peer.transactions)
		assert before < N, "delivery finished before the kill"
		a.start()
		assert wait_for(lambda: queue_empty(a), 60, step=0.2), a.log_tail()
		got = collections.Counter()
		for t in peer.transactions:
			m = re.search(rb"Subject: test (mk-[0-9a-f]+)", t["data"])
			assert m, t["data"][:300]
			got[m.group(1).decode()] += 1
		missing = [mk for mk in marks if got[mk] == 0]
		assert missing == [], "lost %d messages" % len(missing)
		dups = sum(n - 1 for n in got.values())
		print("\nkill -9 after %d of %d delivered; duplicates after "
		    "restart: %d" % (before, N, dups))
		# At least once, and duplicates only from attempts in flight.
		assert dups <= 32 + 1
	finally:
		peer.stop()


def test_relay_kill9_of_runner_only_loses_nothing(make_instance):
	"""The issue's test, short form (make reliability runs 1,000): only
	the queue runner is killed, three times, while it delivers to a
	second instance; the master restarts it each time."""
	from relay_support import kill_runner_during_delivery
	lost, dups, kills, at = kill_runner_during_delivery(make_instance, N, 3)
	print("\nrunner kill -9 x%d during %d messages: lost %d, duplicates %d"
	    % (kills, N, len(lost), dups))
	assert lost == [], "lost %d messages" % len(lost)
	# Duplicates only from the attempts in flight at each kill.
	assert dups <= kills * 20
