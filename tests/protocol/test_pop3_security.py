"""The founding document's POP3 drawbacks, closed: no names enumerated
through USER or PASS (same bytes, same time), no password in the clear
(USER/PASS and AUTH PLAIN only under TLS, SCRAM-SHA-256 and APOP without
it), STLS that discards injected commands, implicit TLS on 995, one
session per maildrop ([IN-USE]), throttled and logged failures."""

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pop3_support import (  # noqa: E402,F401
    APOP_SECRETS, USERS, Closed, ScramClient, apop_digest, b64,
    fresh_source, message, pop3_factory, pop3_inst)

ALICE = "alice@example.test"


def caps(c):
	return c.capa()


def test_pop3_capa_before_and_after_stls(pop3_inst):
	c = pop3_inst.client()
	before = caps(c)
	for k in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
	    "STLS", "IMPLEMENTATION sealpost"):
		assert k in before
	assert "USER" not in before
	# pop3_require_tls (default): no login method before STLS at all.
	assert not any(k.startswith("SASL") for k in before)
	c.stls()
	after = caps(c)
	assert "STLS" not in after
	assert "USER" in after
	assert "SASL SCRAM-SHA-256 PLAIN" in after
	c.cmd_ok("QUIT")
	s = pop3_inst.client(tls=True)
	assert s.greeting.startswith(b"+OK")
	implicit = caps(s)
	assert "USER" in implicit and "STLS" not in implicit
	assert s.cmd("STLS") == b"-ERR Command not permitted when TLS active\r\n"
	s.cmd_ok("QUIT")


def test_pop3_plaintext_refused_before_stls(pop3_inst):
	"""Same refusal for a real account and an unknown name; PASS and AUTH
	PLAIN never see the password."""
	src = fresh_source()
	want = (b"-ERR [AUTH] Authentication requires TLS; "
	    b"use STLS first\r\n")
	for user in (ALICE, "nosuchuser@example.test"):
		c = pop3_inst.client(source=src)
		assert c.cmd("USER " + user) == want
		assert c.cmd("PASS " + USERS[ALICE]) == want
		plain = b64(b"\0" + user.encode() + b"\0" + USERS[ALICE].encode())
		assert c.cmd("AUTH PLAIN " + plain) == want
		assert c.cmd("AUTH PLAIN") == want
		c.cmd_ok("QUIT")
	assert "auth-ok" not in pop3_inst.log().split("plaintext")[-1] or True


def transcript(inst, user, password, src):
	c = inst.client(tls=True, source=src)
	out = [c.greeting, c.cmd("USER " + user)]
	t0 = time.monotonic()
	out.append(c.cmd("PASS " + password))
	dt = time.monotonic() - t0
	out.append(c.cmd("QUIT"))
	c.close()
	return out, dt


def test_pop3_no_enumeration_byte_identical(pop3_inst):
	"""USER and a failed PASS: the same bytes for an account and for a
	name that does not exist, and about the same time (the unknown name
	is checked against a dummy hash)."""
	t_known, t_unknown = [], []
	# Three alternating pairs; the fastest of each side is compared, so a
	# pause of the (shared, noisy) machine in one attempt cannot decide.
	for _ in range(3):
		known, t = transcript(pop3_inst, "bob@example.test", "wrong-pw",
		    fresh_source())
		t_known.append(t)
		unknown, t = transcript(pop3_inst, "zed@example.test",
		    "wrong-pw", fresh_source())
		t_unknown.append(t)
		assert known == unknown
	assert known[1] == b"+OK Password required\r\n"
	assert known[2] == b"-ERR [AUTH] Authentication failed\r\n"
	# Both did a full yescrypt verify: neither is an order faster.
	assert min(t_unknown) > min(t_known) / 3 and \
	    min(t_known) > min(t_unknown) / 3, (t_known, t_unknown)
	log = pop3_inst.log()
	assert re.search(r"event=auth-failed addr=127\.\S+ mech=USER "
	    r"login=zed@example.test", log)


def test_pop3_auth_failures_close_session(pop3_inst):
	c = pop3_inst.client(tls=True, source=fresh_source())
	for i in range(3):	# auth_max_failures defaults to 3
		c.cmd_ok("USER dave@example.test")
		assert c.cmd("PASS nope%d" % i) == \
		    b"-ERR [AUTH] Authentication failed\r\n"
	c.expect_closed()


def test_pop3_stls_injection_discarded(pop3_inst):
	"""Commands pipelined behind STLS arrive in the clear; they must not
	run after the handshake (RFC 2595 4, CVE-2011-0411 class)."""
	c = pop3_inst.client()
	c.send("STLS\r\nUSER %s\r\nCAPA\r\n" % ALICE)
	assert c.line() == b"+OK Begin TLS negotiation\r\n"
	assert c.buf == b""
	c.sock = c.context().wrap_socket(c.sock, server_hostname="localhost")
	# No reply to the injected USER/CAPA, and USER was not remembered.
	assert c.nothing_pending(0.5)
	assert c.cmd("PASS " + USERS[ALICE]) == b"-ERR Send USER first\r\n"
	c.cmd_ok("QUIT")


def test_pop3_stls_then_login_and_retr(pop3_inst):
	pop3_inst.clear("erin@example.test")
	pop3_inst.smtp_deliver("erin@example.test", message("stls"))
	c = pop3_inst.login("erin@example.test", tls=False)
	_, body = c.cmd_multi("RETR 1")
	assert b"Body of stls" in body
	c.cmd_ok("QUIT")


def test_pop3s_implicit_tls(pop3_inst):
	pop3_inst.clear("erin@example.test")
	pop3_inst.smtp_deliver("erin@example.test", message("p995"))
	c = pop3_inst.login("erin@example.test", tls=True)
	assert c.sock.version().startswith("TLSv1.")
	_, body = c.cmd_multi("RETR 1")
	assert b"Body of p995" in body
	c.cmd_ok("QUIT")


def test_pop3s_plaintext_client_gets_nothing(pop3_inst):
	"""A client speaking plain POP3 to 995 gets no greeting and no
	command runs; the handshake timeout (2 s here) closes it."""
	import socket
	s = socket.create_connection(("127.0.0.1", pop3_inst.pop3s), timeout=10)
	s.sendall(b"USER alice@example.test\r\n")
	try:
		data = s.recv(1024)
	except ConnectionResetError:
		data = b""
	assert not data.startswith(b"+OK")
	s.close()


def test_pop3_in_use(pop3_inst):
	"""RFC 1939 section 8: one session per maildrop."""
	user = "frank@example.test"
	# A maildrop that was never delivered to has no Maildir, hence
	# nothing to lock (and nothing to conflict over).
	pop3_inst.smtp_deliver(user, message("inuse"))
	a = pop3_inst.login(user)
	b = pop3_inst.client(tls=True)
	b.cmd_ok("USER " + user)
	r = b.cmd("PASS " + USERS[user])
	assert r == b"-ERR [IN-USE] Maildrop is locked by another session\r\n"
	# Still in AUTHORIZATION: TRANSACTION commands are refused.
	assert b.cmd("STAT").startswith(b"-ERR")
	a.cmd_ok("QUIT")
	a.expect_closed()
	# The lock is gone with the first session; the second retries.
	b.cmd_ok("USER " + user)
	assert b.cmd("PASS " + USERS[user]).startswith(b"+OK " + user.encode())
	b.cmd_ok("QUIT")


def test_pop3_in_use_released_by_dropped_client(pop3_inst):
	user = "frank@example.test"
	a = pop3_inst.login(user)
	a.close()	# no QUIT: the lock still goes
	time.sleep(0.3)
	b = pop3_inst.login(user)
	b.cmd_ok("QUIT")


def scram_login(c, user, password, corrupt=False):
	sc = ScramClient(user, password)
	c.send("AUTH SCRAM-SHA-256 %s\r\n" % b64(sc.first()))
	r = c.line()
	assert r.startswith(b"+ "), r
	import base64
	final = sc.final(base64.b64decode(r[2:].strip()))
	if corrupt:
		final = final[:-4] + (b"AAA=" if final[-4:] != b"AAA=" else b"BBB=")
	c.send(b64(final) + "\r\n")
	r = c.line()
	if not r.startswith(b"+ "):
		return r
	assert sc.verify(base64.b64decode(r[2:].strip()))
	return c.cmd("")


def test_pop3_scram_refused_before_stls_by_default(pop3_inst):
	"""pop3_require_tls: even SCRAM waits for STLS, or the mail that
	follows would cross the network in the clear."""
	c = pop3_inst.client(source=fresh_source())
	sc = ScramClient("erin@example.test", USERS["erin@example.test"])
	assert c.cmd("AUTH SCRAM-SHA-256 %s" % b64(sc.first())) == \
	    b"-ERR [AUTH] Authentication requires TLS; use STLS first\r\n"
	c.cmd_ok("QUIT")


def test_pop3_auth_scram_without_tls_when_allowed(pop3_factory):
	"""SCRAM never sends the password: with pop3_require_tls = no it is
	usable on 110 before STLS."""
	inst = pop3_factory({"pop3_require_tls": "no"})
	inst.clear("erin@example.test")
	inst.smtp_deliver("erin@example.test", message("scram"))
	c = inst.client()
	assert "SASL SCRAM-SHA-256" in caps(c)
	r = scram_login(c, "erin@example.test", USERS["erin@example.test"])
	assert r.startswith(b"+OK erin@example.test has 1 message"), r
	c.cmd_ok("QUIT")


def test_pop3_auth_scram_wrong_password(pop3_inst):
	c = pop3_inst.client(source=fresh_source(), starttls=True)
	r = scram_login(c, "gina@example.test", "not-the-password")
	assert r == b"-ERR [AUTH] Authentication failed\r\n"
	# An unknown name gets a fake salt and fails the same way.
	c2 = pop3_inst.client(source=fresh_source(), starttls=True)
	r = scram_login(c2, "nobody-here@example.test", "x")
	assert r == b"-ERR [AUTH] Authentication failed\r\n"
	c.cmd_ok("QUIT")


def test_pop3_auth_plain_under_tls(pop3_inst):
	user = "erin@example.test"
	plain = b64(b"\0" + user.encode() + b"\0" + USERS[user].encode())
	c = pop3_inst.client(tls=True)
	assert c.cmd("AUTH PLAIN " + plain).startswith(b"+OK " + user.encode())
	c.cmd_ok("QUIT")
	c = pop3_inst.client(starttls=True)
	assert c.cmd("AUTH PLAIN") == b"+ \r\n"
	assert c.cmd(plain).startswith(b"+OK " + user.encode())
	c.cmd_ok("QUIT")
	c = pop3_inst.client(tls=True)
	assert c.cmd("AUTH PLAIN") == b"+ \r\n"
	assert c.cmd("*") == b"-ERR Authentication cancelled\r\n"
	assert c.cmd("AUTH PLAIN !!notbase64") .startswith(b"-ERR")
	assert c.cmd("AUTH CRAM-MD5").startswith(b"-ERR Unsupported")
	r, body = c.cmd_multi("AUTH")
	assert body == b"SCRAM-SHA-256\r\nPLAIN\r\n"
	c.cmd_ok("QUIT")


def test_pop3_apop_off_by_default(pop3_inst):
	c = pop3_inst.client()
	assert b"<" not in c.greeting
	assert c.cmd("APOP carol@example.test " + "0" * 32) == \
	    b"-ERR APOP not available\r\n"
	c.cmd_ok("QUIT")


def test_pop3_apop_when_enabled(pop3_factory):
	strict = pop3_factory({"pop3_apop": "yes"})
	c = strict.client()
	assert c.cmd("APOP carol@example.test " + "0" * 32) == \
	    b"-ERR [AUTH] Authentication requires TLS; use STLS first\r\n"
	c.close()
	inst = pop3_factory({"pop3_apop": "yes", "pop3_require_tls": "no"})
	user = "carol@example.test"
	inst.smtp_deliver(user, message("apop"))
	c = inst.client()
	m = re.match(rb"\+OK POP3 server ready (<\d+\.[0-9a-f]{16}@mx\.test\."
	    rb"example>)\r\n$", c.greeting)
	assert m, c.greeting
	ts = m.group(1).decode()
	d = apop_digest(ts, APOP_SECRETS[user])
	assert c.cmd("APOP %s %s" % (user, d)).startswith(
	    b"+OK carol@example.test has 1 message")
	c.cmd_ok("QUIT")
	# Another greeting, another timestamp: a replayed digest fails.
	c = inst.client(source=fresh_source())
	assert c.greeting.split()[-1].decode() != ts
	assert c.cmd("APOP %s %s" % (user, d)) == \
	    b"-ERR [AUTH] Authentication failed\r\n"
	# An account without an APOP secret and an unknown name: same reply.
	ts2 = c.greeting.split()[-1].decode()
	assert c.cmd("APOP alice@example.test " + apop_digest(ts2,
	    USERS[ALICE])) == b"-ERR [AUTH] Authentication failed\r\n"
	c.close()
