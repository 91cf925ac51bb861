"""Outbound delivery from instance A to instance B over loopback via the
`transport` map: byte-exact content, Return-Path not transmitted, STARTTLS
used and logged."""

import re

import sealpost_harness as H
from relay_support import queue_empty, submit, wait_for

REMOTE = "carol@example.net"


def make_pair(make_instance, a_extra=None):
	b = make_instance({"domains": "example.net"}, start=False, users=False,
	    name="b")
	b.cli("user", "add", REMOTE, "--password-stdin", input=b"carol-Pw-3\n")
	b.start()
	over = {"transport": "example.net=[127.0.0.1]:%d" % b.smtp,
	    "queue_scan_interval": "1", "queue_retry_schedule": "1s"}
	over.update(a_extra or {})
	a = make_instance(over, name="a")
	return a, b


def test_relay_delivers_to_second_instance_byte_exact(make_instance):
	a, b = make_pair(make_instance)
	mk = H.marker()
	body = H.simple_message(mk, sender="alice@example.test", to=REMOTE,
	    body="Line one %s\r\n.leading dot\r\n..two dots\r\nlast\r\n" % mk)
	submit(a, [REMOTE], body)
	msgs = wait_for(lambda: b.find(REMOTE, mk), 15)
	assert len(msgs) == 1, a.log_tail()
	got = msgs[0]
	# B's own Return-Path first, then B's trace headers, then A's
	# Received, then the message as submitted (A's submission headers).
	assert got.count(b"Return-Path:") == 1, got
	assert got.startswith(b"Return-Path: <alice@example.test>\r\n"), got
	assert got.endswith(body), got
	assert b"\r\n.leading dot\r\n..two dots\r\n" in got
	assert wait_for(lambda: queue_empty(a), 10), a.queue_files()
	log = a.log()
	m = re.search(r"relay qid=\S+ event=delivered to=<%s> peer=127\.0\.0\.1:%d "
	    r"tls=(\S+)" % (re.escape(REMOTE), b.smtp), log)
	assert m, log[-3000:]
	assert m.group(1).startswith("TLSv1."), m.group(0)


def test_relay_tls_encrypt_policy_defers_without_starttls(make_instance):
	"""tls_outbound = encrypt: a peer without STARTTLS is not used."""
	from relay_support import FakePeer
	peer = FakePeer()
	try:
		a = make_instance({"transport": "example.net=[127.0.0.1]:%d" % peer.port,
		    "queue_scan_interval": "1", "queue_retry_schedule": "1h",
		    "tls_outbound": "encrypt"})
		mk = H.marker()
		submit(a, [REMOTE], H.simple_message(mk, sender="alice@example.test",
		    to=REMOTE))
		assert wait_for(lambda: "event=deferred" in a.log(), 10), a.log_tail()
		assert "4.7.5 TLS is required" in a.log()
		assert peer.transactions == []
		assert not queue_empty(a)
	finally:
		peer.stop()


def test_relay_without_transport_uses_mx_and_defers_when_down(make_instance):
	"""No transport entry: the harness DNS's MX for example.org is used;
	nobody listens on relay_mx_port there, so the recipient is deferred."""
	port = H.free_port_base() + 25
	a = make_instance({"queue_scan_interval": "1", "relay_mx_port": str(port)})
	mk = H.marker()
	submit(a, ["dave@example.org"], H.simple_message(mk,
	    sender="alice@example.test", to="dave@example.org"))
	assert wait_for(lambda: re.search(r"event=deferred to=<dave@example\.org> "
	    r"peer=mx\.example\.org\[127\.0\.0\.1\]:%d tls=no reply=\"451 4\.4\.1 "
	    r"connect to [^\"]*\" retry=\d+s next=\S+Z" % port, a.log()), 10), \
	    a.log_tail()
	assert not queue_empty(a)


def test_relay_tls_verify_refuses_self_signed_peer(make_instance):
	"""tls_outbound = verify: B's self-signed certificate is not trusted,
	so nothing is sent and the recipient is deferred (4.7.5)."""
	a, b = make_pair(make_instance, {"tls_outbound": "verify",
	    "queue_retry_schedule": "1h"})
	mk = H.marker()
	submit(a, [REMOTE], H.simple_message(mk, sender="alice@example.test",
	    to=REMOTE))
	assert wait_for(lambda: "event=deferred" in a.log(), 15), a.log_tail()
	assert re.search(r"event=deferred to=<%s> .*reply=\"451 4\.7\.5 TLS with "
	    r"127\.0\.0\.1:%d failed: [^\"]*certificate verify failed" % (
	    re.escape(REMOTE), b.smtp), a.log()), a.log()[-2000:]
	assert b.find(REMOTE, mk) == []
	assert not queue_empty(a)
