"""Delay notices (queue_delay_notice, RFC 3464 Action: delayed): once per
message, even across a restart of the server; never to <>."""

import email
import email.policy
import re
import time

import sealpost_harness as H
from relay_support import FakePeer, bounces, submit, wait_for

REMOTE = "ida@example.net"
SENDER = "alice@example.test"


def test_relay_delay_notice_sent_once(make_instance):
	peer = FakePeer(rcpt_answer=lambda rcpt, n: "451 4.7.1 try later")
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" %
		    peer.port, "queue_scan_interval": "1",
		    "queue_retry_schedule": "1s", "queue_delay_notice": "2s"})
		mk = H.marker()
		submit(a, [REMOTE], H.simple_message(mk, sender=SENDER, to=REMOTE))
		got = wait_for(lambda: bounces(a, SENDER, mk), 15)
		assert len(got) == 1, a.log_tail()
		m = email.message_from_bytes(got[0], policy=email.policy.default)
		assert m["Subject"] == "Delayed Mail (still being retried)"
		assert m.get_content_type() == "multipart/report"
		text, ds, hdrs = list(m.iter_parts())
		assert ds.get_content_type() == "message/delivery-status"
		raw = got[0].decode()
		assert "Final-Recipient: rfc822; %s" % REMOTE in raw
		assert "Action: delayed" in raw
		assert "Status: 4.7.1" in raw
		assert "Diagnostic-Code: smtp; 451 4.7.1 try later" in raw
		assert re.search(r"Will-Retry-Until: \w{3}, ", raw)
		assert mk in hdrs.get_content()
		# Still retried, and no second notice: neither by the runner
		# going on nor after a restart of the whole server.
		tries = peer.mails
		time.sleep(2 * H.SLOW)
		a.stop()
		a.start()
		assert wait_for(lambda: peer.mails >= tries + 3, 15)
		assert len(bounces(a, SENDER, mk)) == 1
		assert len(re.findall(r"event=delay-notice-sent", a.log())) == 1
		assert "Action: failed" not in raw
	finally:
		peer.stop()


def test_relay_no_delay_notice_to_null_sender(make_instance):
	peer = FakePeer(rcpt_answer=lambda rcpt, n: "451 4.7.1 try later")
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" %
		    peer.port, "queue_scan_interval": "1",
		    "queue_retry_schedule": "1s", "queue_delay_notice": "1s"})
		c = a.client(source="127.0.0.2")
		c.ehlo()
		r = c.mail_message("", [REMOTE], H.simple_message(H.marker(),
		    to=REMOTE))
		assert r.code == 250, r
		c.quit()
		assert wait_for(lambda: peer.mails >= 4, 15), a.log_tail()
		assert "delay-notice" not in a.log()
	finally:
		peer.stop()
