"""Forwarding lists and loop protection on one instance (docs/outbound.md):
the Received hop limit and the Delivered-To loop check (554 5.4.6 at the
end of DATA, nothing stored), per-copy Delivered-To with duplicate
suppression, bounces and auto-replies kept off remote list members, the
per-(sender, list) rate limit, and SRS reversal of bounce addresses (the
hash computed here independently from the instance secret)."""

import base64
import hashlib
import hmac
import re
import time

import pytest

import sealpost_harness as H

ALICE, BOB = "alice@example.test", "bob@example.test"
OUTSIDER = "someone@example.org"


@pytest.fixture(scope="module")
def loop_inst(module_factory):
	i = module_factory({"max_hops": "5", "list_rate_limit": "2"},
	    start=False)
	# A forwarding alias (no owner), a list with an owner, a nested one.
	i.cli("alias", "add", "fwd@example.test", ALICE, "far@example.org")
	i.cli("alias", "add", "news@example.test", BOB, "far2@example.org")
	i.cli("alias", "add", "owner-news@example.test", ALICE)
	i.cli("alias", "add", "outer@example.test", "list@example.test")
	i.cli("alias", "add", "far-list@example.test", "far3@example.org")
	i.cli("alias", "add", "owner-far-list@example.test", ALICE)
	i.start()
	return i


def send(inst, rcpts, msg, sender=OUTSIDER):
	"""One transaction; returns the reply to the final dot."""
	c = inst.client()
	c.ehlo()
	try:
		return c.mail_message(sender, rcpts, msg)
	finally:
		c.quit()


def received(n):
	return "".join("Received: from h%d by h%d; Thu, 1 Jan 2026 00:00:00 "
	    "+0000\r\n" % (i, i + 1) for i in range(n))


@pytest.mark.parametrize("hops, code", [(5, 250), (6, 554)])
def test_smtp_loop_max_hops(loop_inst, hops, code):
	mk = H.marker()
	r = send(loop_inst, [ALICE], H.simple_message(mk,
	    extra_headers=received(hops)))
	assert r.code == code, r
	if code == 554:
		assert r.enhanced == "5.4.6", r
		assert "Too many hops (6 Received fields, limit 5)" in r.text
		assert loop_inst.find(ALICE, mk) == []
		assert re.search(r"event=mail-loop reason=hops received=6 max=5",
		    loop_inst.log())
	else:
		assert len(loop_inst.wait_messages(ALICE, 1)) >= 1
		assert len(loop_inst.find(ALICE, mk)) == 1


@pytest.mark.parametrize("rcpt, dt", [
	("list@example.test", "list@example.test"),
	("list@example.test", "<LIST@Example.Test>"),
	# Nested: outer expands through list, which already had it.
	("outer@example.test", "list@example.test"),
])
def test_smtp_loop_delivered_to_refused(loop_inst, rcpt, dt):
	mk = H.marker()
	r = send(loop_inst, [rcpt], H.simple_message(mk,
	    extra_headers="Delivered-To: someone@else.example\r\n"
	    "Delivered-To: %s\r\n" % dt))
	assert r.code == 554 and r.enhanced == "5.4.6", r
	assert "already delivered to <list@example.test>" in r.text
	assert loop_inst.find_anywhere(mk) == []
	assert "event=mail-loop reason=delivered-to alias=<list@example.test>" \
	    in loop_inst.log()


def test_smtp_loop_delivered_to_of_others_passes(loop_inst):
	mk = H.marker()
	r = send(loop_inst, ["list@example.test"], H.simple_message(mk,
	    extra_headers="Delivered-To: list@example.org\r\n"))
	assert r.code == 250, r
	a = loop_inst.find(ALICE, mk)
	assert len(a) == 1
	# Ours first (after Return-Path), the earlier one kept below.
	assert re.match(rb"Return-Path: <[^>]*>\r\nDelivered-To: "
	    rb"list@example.test\r\nReceived: ", a[0]), a[0][:200]
	assert b"Delivered-To: list@example.org\r\n" in a[0]


def test_smtp_loop_copies_and_duplicates(loop_inst):
	"""bob directly and through list, alice through list and outer: one
	message each; bob's (plain) without Delivered-To, alice's with the
	first alias that reached her, and one file shared by list's copy."""
	mk = H.marker()
	r = send(loop_inst, [BOB, "list@example.test", "outer@example.test"],
	    H.simple_message(mk))
	assert r.code == 250, r
	b, a = loop_inst.find(BOB, mk), loop_inst.find(ALICE, mk)
	assert len(b) == 1 and len(a) == 1, (len(b), len(a))
	assert b"Delivered-To:" not in b[0]
	assert a[0].count(b"Delivered-To:") == 1
	assert b"\r\nDelivered-To: list@example.test\r\n" in a[0]
	# Same body otherwise.
	assert a[0].split(b"\r\n\r\n", 1)[1] == b[0].split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("sender, extra, reason", [
	("", "", "bounce"),
	(OUTSIDER, "Auto-Submitted: auto-replied\r\n", "auto-submitted"),
])
def test_smtp_loop_automatic_mail_not_forwarded_by_lists(loop_inst, sender,
    extra, reason):
	mk = H.marker()
	r = send(loop_inst, ["news@example.test"], H.simple_message(mk,
	    extra_headers=extra), sender=sender)
	assert r.code == 250, r
	assert len(loop_inst.find(BOB, mk)) == 1
	# Nothing queued for the remote member.
	assert [p for p in loop_inst.queue_files() if mk.encode() in
	    p.read_bytes()] == []
	assert re.search(r"event=list-not-forwarded alias=<news@example.test> "
	    r"reason=%s remote=1" % reason, loop_inst.log())


def test_smtp_loop_bounce_to_remote_only_list_is_dropped(loop_inst):
	"""Nobody left to deliver to: accepted (the sender must not retry or
	bounce it back), stored nowhere, logged."""
	mk = H.marker()
	r = send(loop_inst, ["far-list@example.test"], H.simple_message(mk),
	    sender="")
	assert r.code == 250, r
	assert loop_inst.find_anywhere(mk) == []
	assert re.search(r"event=list-not-forwarded alias=<far-list@example.test> "
	    r"reason=bounce remote=1", loop_inst.log())


def test_smtp_loop_list_copy_uses_owner_sender(loop_inst):
	mk = H.marker()
	r = send(loop_inst, ["news@example.test"], H.simple_message(mk))
	assert r.code == 250, r
	envs = [p for p in loop_inst.queue_files() if p.name.endswith(".env")]
	assert any(b"owner-news@example.test" in p.read_bytes() for p in envs)
	assert "sender=<owner-news@example.test>" in loop_inst.log()


def test_smtp_loop_list_rate_limit(loop_inst):
	sender = "runaway@example.org"
	codes = []
	c = loop_inst.client()
	c.ehlo()
	for _ in range(3):
		r = c.cmd("MAIL FROM:<%s>" % sender)
		assert r.code == 250, r
		r = c.cmd("RCPT TO:<fwd@example.test>")
		codes.append((r.code, r.enhanced))
		c.cmd("RSET")
	# A local-only alias is not limited; another sender is not either.
	r = c.cmd("MAIL FROM:<%s>" % sender)
	assert c.cmd("RCPT TO:<list@example.test>").code == 250
	c.cmd("RSET")
	c.cmd("MAIL FROM:<other@example.org>")
	assert c.cmd("RCPT TO:<fwd@example.test>").code == 250
	c.quit()
	assert codes == [(250, "2.1.5"), (250, "2.1.5"), (450, "4.7.1")], codes
	assert re.search(r"event=list-rate-limited from=<runaway@example.org> "
	    r"alias=<fwd@example.test> limit=2/h", loop_inst.log())


def srs0(inst, local, domain, days_ago=0, tamper=False):
	"""An SRS0 address at example.test, computed like src/policy/srs.c."""
	secret = (inst.data / "secret").read_bytes()
	key = hmac.new(secret, b"sealpost srs v1", hashlib.sha256).digest()
	day = (int(time.time()) // 86400 - days_ago) % 1024
	b32 = "abcdefghijklmnopqrstuvwxyz234567"
	tt = b32[day >> 5] + b32[day & 31]
	text = "%s=%s=%s" % (tt, domain, local)
	mac = hmac.new(key, ("0:" + text.lower()).encode(),
	    hashlib.sha256).digest()
	h = base64.b32encode(mac[:5]).decode().lower()
	if tamper:
		h = ("b" if h[0] == "a" else "a") + h[1:]
	return "SRS0=%s=%s@example.test" % (h, text)


@pytest.mark.parametrize("kind, code", [("valid", 250), ("expired", 550),
    ("tampered", 550), ("garbage", 550)])
def test_smtp_loop_srs_reverse(loop_inst, kind, code):
	if kind == "garbage":
		addr = "SRS0=zzzz=zz=example.org=x@example.test"
	else:
		addr = srs0(loop_inst, "Orig", "example.org",
		    days_ago=30 if kind == "expired" else 0,
		    tamper=kind == "tampered")
	c = loop_inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<>").code == 250
	r = c.cmd("RCPT TO:<%s>" % addr)
	c.quit()
	assert r.code == code, (addr, r)
	if code == 250:
		assert "event=srs-reversed rcpt=<%s> to=<orig@example.org>" % (
		    addr.lower()) in loop_inst.log()
	else:
		assert r.enhanced == "5.1.1", r
		assert "invalid or expired SRS address" in r.text
