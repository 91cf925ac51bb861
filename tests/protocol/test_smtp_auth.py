"""Submission (587 STARTTLS, 465 implicit TLS): AUTH (RFC 4954) with PLAIN,
LOGIN and SCRAM-SHA-256 (RFC 5802/7677, client written here), the rules
that an authenticated login may only send as itself or its aliases, header
additions on submission, and failure handling (identical replies, closing
after auth_max_failures, a log line with the client IP).

Failure tests connect from their own 127.0.0.x source address so the
per-IP throttling they cause does not slow the other tests down."""

import base64
import re
import smtplib
import ssl

import pytest

import sealpost_harness as H
from sealpost_harness import marker, simple_message

ALICE = "alice@example.test"
ALICE_PW = H.USERS[ALICE]


def b64(s):
	return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def tls_client(inst, service, source=None):
	"""A client on 587 after STARTTLS + EHLO, or on 465 after EHLO."""
	c = inst.client(service, source=source)
	c.ehlo()
	if service == "submission":
		c.starttls()
		c.ehlo()
	return c


def authed(inst, service="submission", user=ALICE, pw=ALICE_PW):
	c = tls_client(inst, service)
	r = c.auth_plain(user, pw)
	assert r.is_(235, "2.7.0"), r
	return c


def test_auth_587_before_tls_no_auth_advertised_and_mail_530(inst):
	c = inst.client("submission")
	r = c.ehlo()
	kw = r.keywords()
	assert "STARTTLS" in kw and "AUTH" not in kw, r
	r = c.cmd("MAIL FROM:<alice@example.test>")
	assert r.is_(530, "5.7.0"), r
	r = c.auth_plain(ALICE, ALICE_PW)
	assert (r.code, r.enhanced) in ((530, "5.7.0"), (538, "5.7.11")), r
	c.quit()


@pytest.mark.parametrize("service", ["submission", "submissions"])
def test_auth_ehlo_after_tls_lists_mechanisms(inst, service):
	c = tls_client(inst, service)
	r = c.cmd("EHLO client.example.org")
	kw = r.keywords()
	assert "STARTTLS" not in kw, r
	mechs = kw.get("AUTH", "").upper().split()
	for m in ("PLAIN", "LOGIN", "SCRAM-SHA-256"):
		assert m in mechs, r
	c.quit()


@pytest.mark.parametrize("service", ["submission", "submissions"])
def test_auth_mail_before_auth_is_530(inst, service):
	c = tls_client(inst, service)
	r = c.cmd("MAIL FROM:<alice@example.test>")
	assert r.is_(530, "5.7.0"), r
	c.quit()


@pytest.mark.parametrize("service", ["submission", "submissions"])
def test_auth_plain_then_send(inst, service):
	mk = marker()
	c = authed(inst, service)
	r = c.mail_message(ALICE, ["bob@example.test"],
	    simple_message(mk, sender=ALICE, to="bob@example.test"))
	assert r.code == 250, r
	c.quit()
	got = inst.find("bob@example.test", mk)
	assert len(got) == 1
	trace, rest = H.split_trace(got[0])
	rcv = re.sub(r"\s+", " ", b"".join(
	    t for t in trace if t.lower().startswith(b"received:")).decode())
	assert re.search(r"\bwith ESMTPSA\b", rcv), rcv
	assert re.search(r"TLS ?v?1\.[23]", rcv), rcv
	assert got[0].startswith(b"Return-Path: <alice@example.test>\r\n"), got[0][:80]


def test_auth_plain_initial_response_in_continuation(inst):
	c = tls_client(inst, "submission")
	r = c.cmd("AUTH PLAIN")
	assert r.code == 334, r
	r = c.cmd(b64("\0%s\0%s" % (ALICE, ALICE_PW)))
	assert r.is_(235, "2.7.0"), r
	c.quit()


def test_auth_plain_with_authzid_equal_to_authcid(inst):
	c = tls_client(inst, "submission")
	r = c.cmd("AUTH PLAIN " + b64("%s\0%s\0%s" % (ALICE, ALICE, ALICE_PW)))
	assert r.is_(235, "2.7.0"), r
	c.quit()


def test_auth_login(inst):
	c = tls_client(inst, "submission")
	r = c.cmd("AUTH LOGIN")
	assert r.code == 334, r
	assert base64.b64decode(r.lines[0]).lower().startswith(b"username"), r
	r = c.cmd(b64(ALICE))
	assert r.code == 334, r
	assert base64.b64decode(r.lines[0]).lower().startswith(b"password"), r
	r = c.cmd(b64(ALICE_PW))
	assert r.is_(235, "2.7.0"), r
	c.quit()


def test_auth_login_with_initial_response(inst):
	c = tls_client(inst, "submissions")
	r = c.cmd("AUTH LOGIN " + b64(ALICE))
	assert r.code == 334, r
	r = c.cmd(b64(ALICE_PW))
	assert r.is_(235, "2.7.0"), r
	c.quit()


def test_auth_cancel_with_star(inst):
	c = tls_client(inst, "submission", source="127.0.0.69")
	assert c.cmd("AUTH LOGIN").code == 334
	r = c.cmd("*")
	assert r.is_(501, "5.7.0") or r.is_(501, "5.0.0"), r	# RFC 4954 4, 6
	assert c.cmd("NOOP").is_(250, "2.0.0")
	c.quit()


def test_auth_twice_is_503(inst):
	c = authed(inst)
	r = c.auth_plain(ALICE, ALICE_PW)
	assert r.is_(503, "5.5.1"), r
	c.quit()


def test_auth_unknown_mechanism_is_504(inst):
	c = tls_client(inst, "submission")
	r = c.cmd("AUTH CRAM-MD5")
	assert r.is_(504, "5.5.4"), r
	c.quit()


@pytest.mark.parametrize("service", ["submission", "submissions"])
def test_auth_scram_sha256(inst, service):
	mk = marker()
	c = tls_client(inst, service)
	r, verified = H.smtp_auth_scram(c, ALICE, ALICE_PW)
	assert r.is_(235, "2.7.0"), r
	assert verified, "server signature (v=) missing or wrong"
	r = c.mail_message(ALICE, ["bob@example.test"],
	    simple_message(mk, sender=ALICE, to="bob@example.test"))
	assert r.code == 250, r
	c.quit()
	assert len(inst.find("bob@example.test", mk)) == 1


def test_auth_scram_wrong_password_is_535(inst):
	c = tls_client(inst, "submission", source="127.0.0.61")
	r, verified = H.smtp_auth_scram(c, ALICE, "wrong-password")
	assert r.is_(535, "5.7.8"), r
	assert not verified
	c.close()


def test_auth_scram_bad_proof_is_535(inst):
	c = tls_client(inst, "submission", source="127.0.0.62")
	r, _ = H.smtp_auth_scram(c, ALICE, ALICE_PW, corrupt_proof=True)
	assert r.is_(535, "5.7.8"), r
	c.close()


def test_auth_scram_unknown_user_looks_like_known(inst):
	"""The server-first message for an unknown user is well formed (a fake
	salt and iteration count) so SCRAM does not reveal which names exist."""
	c = tls_client(inst, "submission", source="127.0.0.63")
	sc = H.ScramClient("nosuchuser@example.test", "whatever")
	r = c.cmd("AUTH SCRAM-SHA-256 " + b64(sc.first()))
	assert r.code == 334, r
	first = base64.b64decode(r.lines[0]).decode()
	assert re.match(r"^r=[^,]+,s=[A-Za-z0-9+/=]+,i=\d+$", first), first
	r = c.cmd(b64(sc.final(first)))
	assert r.is_(535, "5.7.8"), r
	c.close()


def test_auth_failure_identical_for_unknown_user_and_closes(inst):
	c = tls_client(inst, "submission", source="127.0.0.64")
	r1 = c.auth_plain(ALICE, "wrong-password")
	r2 = c.auth_plain("nosuchuser@example.test", "wrong-password")
	assert r1.is_(535, "5.7.8"), r1
	assert r2.is_(535, "5.7.8"), r2
	assert r1.text == r2.text, (r1, r2)
	# auth_max_failures = 3 (default): the third failure ends the session.
	try:
		r3 = c.auth_plain("bob@example.test", "wrong-password")
		assert r3.code in (535, 421), r3
	except H.Closed:
		pass
	c.expect_closed(timeout=10)
	log = inst.log()
	fails = [l for l in log.splitlines()
	    if "127.0.0.64" in l and re.search(r"auth", l, re.I)]
	assert len(fails) >= 2, "no auth failure log lines with the client IP:\n" + inst.log_tail()
	# Never the password in the log.
	assert "wrong-password" not in log


def test_auth_login_failure_identical_for_unknown_user(inst):
	replies = []
	for i, user in enumerate((ALICE, "nosuchuser@example.test")):
		c = tls_client(inst, "submissions", source="127.0.0.%d" % (65 + i))
		assert c.cmd("AUTH LOGIN").code == 334
		assert c.cmd(b64(user)).code == 334
		replies.append(c.cmd(b64("wrong-password")))
		c.close()
	assert replies[0].is_(535, "5.7.8"), replies
	assert replies[0].text == replies[1].text, replies


def test_auth_bad_base64_is_501(inst):
	c = tls_client(inst, "submission", source="127.0.0.67")
	r = c.cmd("AUTH PLAIN !!!notbase64!!!")
	assert r.is_(501, "5.5.2"), r
	c.close()


def test_auth_long_line_up_to_12288_is_not_a_line_length_error(inst):
	"""RFC 4954 4: AUTH lines may be up to 12288 octets."""
	c = tls_client(inst, "submission", source="127.0.0.68")
	junk = b64("\0nosuchuser@example.test\0" + "p" * 8000)
	assert 10000 < len(junk) + len("AUTH PLAIN ") < 12288
	r = c.cmd("AUTH PLAIN " + junk)
	assert r.enhanced != "5.5.6", r
	assert r.code in (535, 501), r
	c.close()


def test_auth_mail_from_not_owned_is_550(inst):
	c = authed(inst)
	r = c.cmd("MAIL FROM:<bob@example.test>")
	assert r.is_(550, "5.7.1"), r
	r = c.cmd("MAIL FROM:<someone@example.org>")
	assert r.is_(550, "5.7.1"), r
	# list@ is an alias that lists alice *and* bob; sales@ lists only alice.
	# Owning = the alias lists the login.
	r = c.cmd("MAIL FROM:<sales@example.test>")
	assert r.code == 250, r
	c.cmd("RSET")
	r = c.cmd("MAIL FROM:<ALICE@Example.Test>")
	assert r.code == 250, r
	c.quit()


def test_auth_header_from_not_owned_is_550_at_end_of_data(inst):
	mk = marker()
	c = authed(inst)
	assert c.cmd("MAIL FROM:<alice@example.test>").code == 250
	assert c.cmd("RCPT TO:<bob@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(simple_message(mk, sender="bob@example.test", to="bob@example.test") + b".\r\n")
	r = c.reply()
	assert r.is_(550, "5.7.1"), r
	# The session goes on.
	assert c.cmd("NOOP").is_(250, "2.0.0")
	c.quit()
	assert not inst.find_anywhere(mk)


def test_auth_header_from_with_display_name_owned(inst):
	mk = marker()
	c = authed(inst)
	msg = ("From: \"Alice A.\" <alice@example.test>\r\nTo: bob@example.test\r\n"
	    "Subject: %s\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
	    "Message-ID: <%s@example.test>\r\n\r\nhi\r\n" % (mk, mk)).encode()
	assert c.mail_message(ALICE, ["bob@example.test"], msg).code == 250
	c.quit()
	assert len(inst.find("bob@example.test", mk)) == 1


def test_auth_header_from_missing_or_second_from_refused(inst):
	mk = marker()
	c = authed(inst)
	# Two From fields, the second not owned.
	msg = ("From: <alice@example.test>\r\nFrom: <bob@example.test>\r\n"
	    "Subject: %s\r\n\r\nhi\r\n" % mk).encode()
	assert c.cmd("MAIL FROM:<alice@example.test>").code == 250
	assert c.cmd("RCPT TO:<bob@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(msg + b".\r\n")
	r = c.reply()
	assert r.code == 550, r
	c.quit()
	assert not inst.find_anywhere(mk)


def test_auth_submission_adds_message_id_and_date(inst):
	mk = marker()
	c = authed(inst)
	msg = ("From: <alice@example.test>\r\nTo: <bob@example.test>\r\n"
	    "Subject: %s\r\n\r\nno id, no date\r\n" % mk).encode()
	assert c.mail_message(ALICE, ["bob@example.test"], msg).code == 250
	c.quit()
	got = inst.find("bob@example.test", mk)
	assert len(got) == 1
	h = H.header_fields(H.split_trace(got[0])[1])
	assert len(h.get("message-id", [])) == 1, h
	assert re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", h["message-id"][0]), h
	assert len(h.get("date", [])) == 1, h
	from email.utils import parsedate_to_datetime
	assert parsedate_to_datetime(h["date"][0]) is not None


def test_auth_submission_keeps_existing_message_id_and_date(inst):
	mk = marker()
	c = authed(inst)
	msg = simple_message(mk, sender=ALICE, to="bob@example.test")
	assert c.mail_message(ALICE, ["bob@example.test"], msg).code == 250
	c.quit()
	got = inst.find("bob@example.test", mk)
	assert len(got) == 1
	assert H.split_trace(got[0])[1].count(b"Message-ID:") == 1
	assert H.header_fields(got[0])["message-id"] == ["<%s@example.org>" % mk]


def test_auth_submission_relays_remote_into_queue(inst):
	mk = marker()
	c = authed(inst)
	r = c.mail_message(ALICE, ["friend@example.net"],
	    simple_message(mk, sender=ALICE, to="friend@example.net"))
	assert r.code == 250, r
	c.quit()
	assert any(mk.encode() in p.read_bytes() for p in inst.queue_files())


def test_auth_smtplib_plain_and_login(inst):
	for mech in ("PLAIN", "LOGIN"):
		mk = marker()
		ctx = ssl.create_default_context(cafile=inst.cert)
		s = smtplib.SMTP("127.0.0.1", inst.submission, local_hostname="client.example.org",
		    timeout=10 * H.SLOW)
		s.starttls(context=ctx)
		s.ehlo()
		s.user, s.password = ALICE, ALICE_PW
		fn = s.auth_plain if mech == "PLAIN" else s.auth_login
		code, _ = s.auth(mech, fn, initial_response_ok=(mech == "PLAIN"))
		assert code == 235, (mech, code)
		s.sendmail(ALICE, ["bob@example.test"],
		    simple_message(mk, sender=ALICE, to="bob@example.test"))
		s.quit()
		assert len(inst.find("bob@example.test", mk)) == 1, mech


def test_auth_port25_after_starttls_then_local_sender_ok_only_with_auth(inst):
	"""On port 25 after STARTTLS, AUTH (if offered) lets a local user send
	as itself; without it the anti-spoofing rule holds even over TLS."""
	c = inst.client()
	c.ehlo()
	c.starttls()
	r = c.ehlo()
	assert c.cmd("MAIL FROM:<alice@example.test>").is_(550, "5.7.1")
	if "AUTH" in r.keywords():
		c.cmd("RSET")
		assert c.auth_plain(ALICE, ALICE_PW).is_(235, "2.7.0")
		assert c.cmd("MAIL FROM:<alice@example.test>").code == 250
	c.quit()


@pytest.mark.nosan
def test_auth_failure_timing_similar_for_unknown_user(inst):
	"""An unknown user must not answer measurably faster (a dummy hash is
	checked), also when failures are throttled: each attempt comes from a
	fresh address, and the same two names (one real, one unknown, neither
	used by other tests) are tried in turn, so any per-name delay must
	grow alike for both."""
	import statistics
	import time
	inst.cli("user", "add", "dave@example.test", "--password-stdin",
	    input=b"dave-Secret-4\n")
	deadline = time.monotonic() + 5 * H.SLOW
	while True:	# account files are re-read within 2 s
		c = inst.client()
		c.ehlo()
		c.cmd("MAIL FROM:<someone@example.org>")
		r = c.cmd("RCPT TO:<dave@example.test>")
		c.quit()
		if r.code == 250 or time.monotonic() > deadline:
			break
		time.sleep(0.2)
	assert r.code == 250, r
	times = {"known": [], "unknown": []}
	for i in range(3):
		for j, (kind, user) in enumerate((("known", "dave@example.test"),
		    ("unknown", "nosuchdave@example.test"))):
			c = tls_client(inst, "submissions", source="127.0.1.%d" % (10 + 2 * i + j))
			t0 = time.monotonic()
			r = c.auth_plain(user, "wrong-password")
			times[kind].append(time.monotonic() - t0)
			assert r.is_(535, "5.7.8"), r
			c.close()
	a = statistics.median(times["known"])
	b = statistics.median(times["unknown"])
	assert abs(a - b) < max(0.05, 0.5 * max(a, b)), times
