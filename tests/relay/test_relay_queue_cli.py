"""`sealpost queue list | show | flush | delete` on a live queue."""

import re

import sealpost_harness as H
from relay_support import FakePeer, queue_empty, submit, wait_for

REMOTE = "erin@example.net"


def test_relay_queue_cli_list_show_flush_delete(make_instance):
	peer = FakePeer(rcpt_answer=lambda rcpt, n: "451 4.3.0 busy" if n == 1
	    else "250 2.1.5 ok")
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" %
		    peer.port, "queue_scan_interval": "1",
		    "queue_retry_schedule": "1h"})
		mk1, mk2 = H.marker(), H.marker()
		submit(a, [REMOTE], H.simple_message(mk1, sender="alice@example.test",
		    to=REMOTE))
		assert wait_for(lambda: "event=deferred" in a.log(), 10), a.log_tail()
		out = a.cli("queue", "list").stdout.decode()
		m = re.search(r"^([0-9a-f]{16})  arrival=\S+  from=<alice@example\.test>"
		    r"  pending=1/1$", out, re.M)
		assert m, out
		qid = m.group(1)
		assert re.search(r"pending\s+<%s> attempts=1 next=\S+Z "
		    r"last=\"451 4\.3\.0 busy\"" % REMOTE, out), out
		show = a.cli("queue", "show", qid).stdout.decode()
		assert "Subject: test %s" % mk1 in show, show
		# Retry is an hour away; flush makes it due now.
		assert a.cli("queue", "flush", qid).stdout.decode().strip() == \
		    "flushed 1 message"
		assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
		assert len(peer.transactions) == 1
		# delete: a second message, deferred, then removed by hand.
		peer.rcpt_answer = lambda rcpt, n: "451 4.3.0 busy"
		submit(a, [REMOTE], H.simple_message(mk2, sender="alice@example.test",
		    to=REMOTE))
		assert wait_for(lambda: a.log().count("event=deferred") >= 2, 10)
		out = a.cli("queue", "list").stdout.decode()
		ids = re.findall(r"^([0-9a-f]{16})  ", out, re.M)
		assert len(ids) == 1, out
		assert a.cli("queue", "delete", ids[0]).returncode == 0
		assert queue_empty(a)
		assert a.cli("queue", "list").stdout.decode().strip() == \
		    "queue is empty"
		r = a.cli("queue", "delete", ids[0], check=False)
		assert r.returncode == 1
		assert a.cli("queue", "bogus", check=False).returncode == 2
	finally:
		peer.stop()


def test_relay_queue_cli_hold_and_release(make_instance):
	state = {"open": False}
	peer = FakePeer(rcpt_answer=lambda rcpt, n: "250 2.1.5 ok"
	    if state["open"] else "451 4.3.0 busy")
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" %
		    peer.port, "queue_scan_interval": "1",
		    "queue_retry_schedule": "1h"})
		submit(a, [REMOTE], H.simple_message(H.marker(),
		    sender="alice@example.test", to=REMOTE))
		assert wait_for(lambda: "event=deferred" in a.log(), 10), a.log_tail()
		out = a.cli("queue", "list").stdout.decode()
		qid = re.findall(r"^([0-9a-f]{16})  ", out, re.M)[0]
		assert a.cli("queue", "hold", qid).stdout.decode().strip() == \
		    "held 1 message"
		assert "next=held" in a.cli("queue", "list").stdout.decode()
		state["open"] = True
		# A flush of the whole queue leaves held messages alone.
		a.cli("queue", "flush")
		assert not wait_for(lambda: queue_empty(a), 3)
		assert peer.transactions == []
		assert a.cli("queue", "release", qid).stdout.decode().strip() == \
		    "released 1 message"
		assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
		assert len(peer.transactions) == 1
		assert a.cli("queue", "hold", qid, check=False).returncode == 1
	finally:
		peer.stop()
