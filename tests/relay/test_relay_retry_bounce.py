"""Retries after 4xx, bounces after 5xx (RFC 3464), against a fake peer."""

import email
import email.policy
import re

import sealpost_harness as H
from relay_support import FakePeer, queue_empty, submit, wait_for

REMOTE = "dave@example.net"


def relay_to(make_instance, peer, extra=None):
	over = {"transport": "example.net=[127.0.0.1]:%d" % peer.port,
	    "queue_scan_interval": "1", "queue_retry_schedule": "1s"}
	over.update(extra or {})
	return make_instance(over)


def test_relay_4xx_then_2xx_is_retried_and_delivered(make_instance):
	peer = FakePeer(rcpt_answer=lambda rcpt, n: "451 4.7.1 greylisted, "
	    "come back later" if n == 1 else "250 2.1.5 ok")
	try:
		a = relay_to(make_instance, peer)
		mk = H.marker()
		body = H.simple_message(mk, sender="alice@example.test", to=REMOTE)
		submit(a, [REMOTE], body)
		assert wait_for(lambda: peer.transactions, 20), a.log_tail()
		assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
		log = a.log()
		assert re.search(r"event=deferred to=<%s> peer=127\.0\.0\.1:%d tls=no "
		    r"reply=\"451 4\.7\.1 greylisted, come back later\" retry=1s" % (
		    REMOTE, peer.port), log), log[-2000:]
		assert "event=delivered to=<%s>" % REMOTE in log
		assert peer.mails >= 2
		t = peer.transactions[0]
		assert t["mail"].startswith("<alice@example.test>"), t
		assert " SIZE=" in t["mail"], t
		assert t["rcpts"] == [REMOTE]
		# Return-Path is not transmitted; the content ends as submitted.
		assert not t["data"].startswith(b"Return-Path:"), t["data"][:200]
		assert b"Return-Path:" not in t["data"]
		assert t["data"].endswith(body), t["data"]
		assert a.find("alice@example.test", "Undelivered") == []
	finally:
		peer.stop()


def parse_bounce(raw):
	return email.message_from_bytes(raw, policy=email.policy.default)


def test_relay_5xx_bounces_rfc3464_to_local_sender(make_instance):
	peer = FakePeer(rcpt_answer=lambda rcpt, n: "550 5.1.1 <%s>: no such "
	    "user here" % rcpt)
	try:
		a = relay_to(make_instance, peer)
		mk = H.marker()
		submit(a, [REMOTE], H.simple_message(mk, sender="alice@example.test",
		    to=REMOTE))
		msgs = wait_for(lambda: a.find("alice@example.test",
		    "Undelivered Mail"), 20)
		assert len(msgs) == 1, a.log_tail()
		assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
		raw = msgs[0]
		assert raw.startswith(b"Return-Path: <>\r\n"), raw[:100]
		m = parse_bounce(raw)
		assert m.get_content_type() == "multipart/report"
		assert m.get_param("report-type") == "delivery-status"
		parts = list(m.iter_parts())
		assert [p.get_content_type() for p in parts] == [
		    "text/plain", "message/delivery-status", "text/rfc822-headers"]
		ds = parts[1]
		# message/delivery-status: per-message block then per-recipient.
		blocks = [b for b in ds.get_payload()]
		fields = {}
		for b in blocks:
			for k, v in b.items():
				fields.setdefault(k.lower(), str(v))
		assert fields["reporting-mta"] == "dns; %s" % H.HOSTNAME
		assert fields["final-recipient"] == "rfc822; %s" % REMOTE
		assert fields["action"] == "failed"
		assert fields["status"] == "5.1.1"
		assert fields["diagnostic-code"].startswith("smtp; 550 5.1.1"), fields
		assert mk.encode() in parts[2].get_payload(decode=True) or \
		    mk in str(parts[2])
		log = a.log()
		assert "event=bounced to=<%s>" % REMOTE in log
		assert "event=bounce-sent to=<alice@example.test>" in log
	finally:
		peer.stop()


def test_relay_size_over_peer_limit_bounces_with_limit(make_instance):
	peer = FakePeer(ehlo_lines=["SIZE 100"])
	try:
		a = relay_to(make_instance, peer)
		mk = H.marker()
		submit(a, [REMOTE], H.simple_message(mk, sender="alice@example.test",
		    to=REMOTE))
		msgs = wait_for(lambda: a.find("alice@example.test",
		    "Undelivered Mail"), 20)
		assert len(msgs) == 1, a.log_tail()
		assert b"5.3.4" in msgs[0]
		assert b"limit of 100" in msgs[0]
		assert peer.transactions == []
	finally:
		peer.stop()


def test_relay_null_sender_is_never_bounced(make_instance):
	"""A failing message with MAIL FROM:<> goes to the postmaster once."""
	peer = FakePeer(rcpt_answer=lambda rcpt, n: "550 5.1.1 no")
	try:
		a = relay_to(make_instance, peer)
		mk = H.marker()
		c = a.client(source="127.0.0.2")	# trusted: may relay
		c.ehlo()
		r = c.mail_message("", [REMOTE], H.simple_message(mk,
		    sender="MAILER-DAEMON@example.org", to=REMOTE))
		assert r.code == 250, r
		c.quit()
		assert wait_for(lambda: "event=double-bounce" in a.log(), 20), \
		    a.log_tail()
		assert wait_for(lambda: queue_empty(a), 10)
		# postmaster@example.test -> alice (ALIASES)
		assert len(a.find("alice@example.test", "Undelivered Mail")) == 1
		assert a.log().count("event=double-bounce") == 1
	finally:
		peer.stop()


def test_relay_stalled_greeting_times_out_and_defers(make_instance):
	peer = FakePeer()
	peer.stall_greeting = True
	try:
		a = relay_to(make_instance, peer, {"timeout_relay_greeting": "1",
		    "queue_retry_schedule": "1h"})
		mk = H.marker()
		submit(a, [REMOTE], H.simple_message(mk, sender="alice@example.test",
		    to=REMOTE))
		assert wait_for(lambda: "event=deferred" in a.log(), 15), a.log_tail()
		assert re.search(r"event=deferred to=<%s> .*reply=\"451 4\.4\.2 "
		    r"timeout in state greeting\" retry=3600s" % REMOTE, a.log())
		assert not queue_empty(a)
	finally:
		peer.stop()


def test_relay_peer_closing_mid_data_defers_then_delivers(make_instance):
	peer = FakePeer()
	peer.close_in_data = True
	try:
		a = relay_to(make_instance, peer)
		mk = H.marker()
		submit(a, [REMOTE], H.simple_message(mk, sender="alice@example.test",
		    to=REMOTE))
		assert wait_for(lambda: "event=deferred" in a.log(), 15), a.log_tail()
		assert "connection lost in state" in a.log()
		peer.close_in_data = False
		assert wait_for(lambda: queue_empty(a), 15), a.log_tail()
		assert len(peer.transactions) == 1
		assert mk.encode() in peer.transactions[0]["data"]
	finally:
		peer.stop()
