"""RFC 1939 against a live sealpostd: the founding document's sample
session, every command in every state, deletion only at QUIT, octet counts
equal to the bytes RETR sends, TOP, UIDL stability, byte-exact round trip
from SMTP DATA to POP3 RETR, messages from other delivery agents."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pop3_support import (  # noqa: E402,F401
    USERS, Closed, crlf, fresh_source, message, pop3_factory, pop3_inst)

ALICE = "alice@example.test"
BOB = "bob@example.test"


def fetch_all(inst, user):
	"""Every message of user as served by RETR (un-stuffed), in order."""
	c = inst.login(user)
	r = c.cmd("STAT")
	n = int(r.split()[1])
	out = [c.cmd_multi("RETR %d" % i)[1] for i in range(1, n + 1)]
	c.cmd_ok("QUIT")
	c.close()
	return out


def test_pop3_sample_session(pop3_inst):
	"""Section 1.3.2 of the founding document, step by step. Its "TOP
	1,10" is not RFC 1939 syntax (TOP msg n) and gets -ERR; "TOP 1 10"
	is what it means."""
	inst = pop3_inst
	inst.clear(ALICE)
	inst.smtp_deliver(ALICE, message("sample", [b"Testing POP3 ....."]))
	c = inst.client(starttls=True)
	assert c.greeting.startswith(b"+OK POP3 server ready")
	assert c.cmd("USER " + ALICE) == b"+OK Password required\r\n"
	r = c.cmd("PASS " + USERS[ALICE])
	assert r.startswith(b"+OK alice@example.test has 1 message (")
	size = int(r.split(b"(")[1].split()[0])
	assert c.cmd("STAT") == b"+OK 1 %d\r\n" % size
	r, body = c.cmd_multi("LIST")
	assert r == b"+OK 1 message (%d octets)\r\n" % size
	assert body == b"1 %d\r\n" % size
	r, msg = c.cmd_multi("RETR 1")
	assert r == b"+OK %d octets\r\n" % size
	assert len(msg) == size
	assert msg.endswith(b"Testing POP3 .....\r\n")
	assert c.cmd("TOP 1,10").startswith(b"-ERR")
	r, top = c.cmd_multi("TOP 1 10")
	assert top == msg
	r, again = c.cmd_multi("RETR 1")
	assert again == msg
	assert c.cmd("DELE 1") == b"+OK Message 1 deleted\r\n"
	assert c.cmd("QUIT").startswith(b"+OK sealpost POP3 server signing off")
	c.expect_closed()
	assert inst.files(ALICE) == {}


def test_pop3_commands_in_authorization_state(pop3_inst):
	c = pop3_inst.client(starttls=True)
	for cmd in ("STAT", "LIST", "LIST 1", "UIDL", "RETR 1", "TOP 1 0",
	    "DELE 1", "RSET", "NOOP"):
		r = c.cmd(cmd)
		assert r.startswith(b"-ERR") and b"AUTHORIZATION" in r, (cmd, r)
	assert c.cmd("PASS x") == b"-ERR Send USER first\r\n"
	assert c.cmd("XYZZ").startswith(b"-ERR Unknown command")
	assert c.cmd("QUIT") == b"+OK sealpost POP3 server signing off\r\n"
	c.expect_closed()


def test_pop3_commands_in_transaction_state(pop3_inst):
	inst = pop3_inst
	inst.clear(ALICE)
	inst.smtp_deliver(ALICE, message("t1"))
	inst.smtp_deliver(ALICE, message("t2"))
	c = inst.login(ALICE)
	for cmd in ("USER x", "PASS y", "APOP a b", "AUTH PLAIN", "STLS"):
		r = c.cmd(cmd)
		assert r.startswith(b"-ERR") and b"TRANSACTION" in r, (cmd, r)
	assert c.cmd("NOOP") == b"+OK\r\n"
	assert c.capa()
	# Message numbers: bad, zero, out of range, too long, extra args.
	for cmd in ("RETR", "RETR 0", "RETR x", "RETR 3", "RETR -1",
	    "RETR 1 2", "LIST 99", "UIDL 0", "DELE 3", "TOP 1", "TOP 1 -1",
	    "TOP 3 0", "STAT 1", "RETR " + "1" * 41):
		r = c.cmd(cmd)
		assert r.startswith(b"-ERR"), (cmd, r)
	assert c.cmd("RETR 3") == b"-ERR No such message, only 2 in maildrop\r\n"
	c.cmd_ok("DELE 1")
	assert c.cmd("DELE 1") == b"-ERR Message 1 already deleted\r\n"
	assert c.cmd("RETR 1") == b"-ERR Message 1 already deleted\r\n"
	assert c.cmd("LIST 1").startswith(b"-ERR")
	r, body = c.cmd_multi("LIST")
	assert r.startswith(b"+OK 1 message (") and body.startswith(b"2 ")
	r, body = c.cmd_multi("UIDL")
	assert body.startswith(b"2 ") and body.count(b"\r\n") == 1
	assert c.cmd("STAT").startswith(b"+OK 1 ")
	r = c.cmd("RSET")
	assert r.startswith(b"+OK Maildrop has 2 messages (")
	assert c.cmd("STAT").startswith(b"+OK 2 ")
	c.close()


def test_pop3_keywords_case_insensitive(pop3_inst):
	inst = pop3_inst
	inst.clear(ALICE)
	inst.smtp_deliver(ALICE, message("case"))
	c = inst.client(starttls=True)
	c.cmd_ok("user " + ALICE)
	c.cmd_ok("pAsS " + USERS[ALICE])
	assert c.cmd("stat").startswith(b"+OK 1 ")
	r, body = c.cmd_multi("rEtR 1")
	assert b"Body of case" in body
	c.cmd_ok("quit")


def test_pop3_delete_only_at_quit(pop3_inst):
	inst = pop3_inst
	inst.clear(ALICE)
	for i in range(3):
		inst.smtp_deliver(ALICE, message("del%d" % i))
	c = inst.login(ALICE)
	c.cmd_ok("DELE 1")
	c.cmd_ok("DELE 3")
	# Still on disk while the session lasts.
	assert len(inst.files(ALICE)) == 3
	r = c.cmd("QUIT")
	assert r == b"+OK sealpost POP3 server signing off (1 message left)\r\n"
	c.expect_closed()
	left = inst.files(ALICE)
	assert len(left) == 1
	assert b"Body of del1" in list(left.values())[0]


def test_pop3_drop_without_quit_keeps_everything(pop3_inst):
	inst = pop3_inst
	inst.clear(ALICE)
	for i in range(2):
		inst.smtp_deliver(ALICE, message("keep%d" % i))
	before = inst.files(ALICE)
	c = inst.login(ALICE)
	c.cmd_multi("RETR 1")
	c.cmd_ok("DELE 1")
	c.cmd_ok("DELE 2")
	c.close()	# no QUIT
	time.sleep(0.3)
	# Nothing removed, nothing even moved to cur/ (no UPDATE state).
	assert inst.files(ALICE) == before
	# And the lock went with the connection.
	c = inst.login(ALICE)
	assert c.cmd("STAT").startswith(b"+OK 2 ")
	c.cmd_ok("QUIT")


def test_pop3_rset_undeletes(pop3_inst):
	inst = pop3_inst
	inst.clear(ALICE)
	inst.smtp_deliver(ALICE, message("rset"))
	c = inst.login(ALICE)
	c.cmd_ok("DELE 1")
	assert c.cmd("STAT").startswith(b"+OK 0 0")
	c.cmd_ok("RSET")
	c.cmd_multi("RETR 1")
	c.cmd_ok("QUIT")
	c.expect_closed()
	files = inst.files(ALICE)
	assert len(files) == 1
	# Retrieved and kept: moved to cur/ with the Seen flag.
	(name,) = files
	assert name.startswith("cur/") and name.endswith(":2,S")


def test_pop3_top(pop3_inst):
	inst = pop3_inst
	inst.clear(ALICE)
	body = [b"line %d" % i for i in range(1, 6)] + [b".dotted", b"end"]
	inst.smtp_deliver(ALICE, message("top", body))
	# TOP is not retrieval: after QUIT the message stays in new/.
	c = inst.login(ALICE)
	c.cmd_multi("TOP 1 3")
	c.cmd_ok("QUIT")
	c.expect_closed()
	assert all(n.startswith("new/") for n in inst.files(ALICE))
	c = inst.login(ALICE)
	_, full = c.cmd_multi("RETR 1")
	head, _, rest = full.partition(b"\r\n\r\n")
	r, t0 = c.cmd_multi("TOP 1 0")
	assert t0 == head + b"\r\n\r\n"
	_, t2 = c.cmd_multi("TOP 1 2")
	assert t2 == head + b"\r\n\r\nline 1\r\nline 2\r\n"
	_, t6 = c.cmd_multi("TOP 1 6")
	assert t6.endswith(b"line 5\r\n.dotted\r\n")
	_, tbig = c.cmd_multi("TOP 1 1000000")
	assert tbig == full
	_, thuge = c.cmd_multi("TOP 1 99999999999999999999999")
	assert thuge == full
	c.cmd_ok("QUIT")


def test_pop3_dot_stuffing_round_trip(pop3_inst):
	"""Lines starting with dots, a lone dot, dots inside lines: sent
	through SMTP DATA (stuffed), stored, and served by RETR (stuffed
	again on the wire) come back byte for byte."""
	inst = pop3_inst
	inst.clear(BOB)
	body = [b".", b"..", b"...three", b". space", b"a.b", b"", b".",
	    b"x" * 900, b".end"]
	msg = message("dots", body)
	inst.smtp_deliver(BOB, msg)
	stored = list(inst.files(BOB).values())[0]
	c = inst.login(BOB)
	c.send("RETR 1\r\n")
	r = c.line()
	raw = c.raw_multi()
	c.cmd_ok("QUIT")
	# What was sent is the stored file, stuffed.
	assert raw.endswith(b"\r\n.\r\n")
	lines = raw[:-3].split(b"\r\n")[:-1]
	unstuffed = b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n"
	    for l in lines)
	assert all(not l.startswith(b".") or l.startswith(b"..") for l in lines)
	assert unstuffed == stored
	assert r == b"+OK %d octets\r\n" % len(stored)
	# The message part is exactly what the client gave to DATA.
	assert unstuffed.endswith(msg)


def test_pop3_foreign_lf_messages(pop3_inst):
	"""Files other delivery agents wrote: LF line ends, no ,S= size in
	the name, no final newline. STAT/LIST count CRLF; RETR converts."""
	inst = pop3_inst
	inst.clear(BOB)
	m1 = b"From: x@example.org\nSubject: lf\n\n.leading dot\nbody\n"
	m2 = b"Subject: mixed\r\n\nline\r\nlast without newline"
	m3 = b""
	inst.drop_file(BOB, m1, when=1000)
	inst.drop_file(BOB, m2, when=1001)
	inst.drop_file(BOB, m3, when=1002)
	c = inst.login(BOB)
	_, listing = c.cmd_multi("LIST")
	sizes = [int(l.split()[1]) for l in listing.split(b"\r\n") if l]
	# RFC 1939 11: the count is what RETR sends, final CRLF included.
	assert sizes == [len(crlf(m1)), len(crlf(m2)) + 2, 0]
	_, r1 = c.cmd_multi("RETR 1")
	assert r1 == crlf(m1)
	_, r2 = c.cmd_multi("RETR 2")
	assert r2 == crlf(m2) + b"\r\n"
	assert len(r2) == sizes[1]
	_, r3 = c.cmd_multi("RETR 3")
	assert r3 == b""
	_, t1 = c.cmd_multi("TOP 1 0")
	assert t1 == b"From: x@example.org\r\nSubject: lf\r\n\r\n"
	c.cmd_ok("QUIT")


def test_pop3_uidl_stable_across_sessions_and_restart(pop3_factory):
	inst = pop3_factory()
	for i in range(3):
		inst.smtp_deliver(ALICE, message("uid%d" % i))
	c = inst.login(ALICE)
	_, u1 = c.cmd_multi("UIDL")
	c.cmd_multi("RETR 2")	# moves to cur/ at QUIT: same UID after
	c.cmd_ok("QUIT")
	c.expect_closed()
	uids = [l.split()[1] for l in u1.split(b"\r\n") if l]
	assert len(set(uids)) == 3
	for u in uids:
		assert 0 < len(u) <= 70 and all(0x21 <= b <= 0x7e for b in u)
	inst.stop()
	inst.start()
	c = inst.login(ALICE)
	_, u2 = c.cmd_multi("UIDL")
	assert u2 == u1
	assert c.cmd("UIDL 2") == b"+OK 2 " + uids[1] + b"\r\n"
	c.cmd_ok("QUIT")


def test_pop3_pipelining(pop3_inst):
	"""RFC 2449 section 6.6: a batch of commands, replies in order."""
	inst = pop3_inst
	inst.clear(ALICE)
	inst.smtp_deliver(ALICE, message("pipe1"))
	inst.smtp_deliver(ALICE, message("pipe2"))
	c = inst.client(tls=True)
	c.send("USER %s\r\nPASS %s\r\nSTAT\r\nRETR 1\r\nLIST\r\nRETR 2\r\n"
	    "DELE 1\r\nNOOP\r\nQUIT\r\n" % (ALICE, USERS[ALICE]))
	assert c.line() == b"+OK Password required\r\n"
	assert c.line().startswith(b"+OK alice@example.test has 2 messages")
	assert c.line().startswith(b"+OK 2 ")
	assert c.line().endswith(b" octets\r\n")
	assert b"Body of pipe1" in c.multi()
	assert c.line().startswith(b"+OK 2 messages")
	c.multi()
	c.line()
	assert b"Body of pipe2" in c.multi()
	assert c.line() == b"+OK Message 1 deleted\r\n"
	assert c.line() == b"+OK\r\n"
	assert c.line().startswith(b"+OK sealpost POP3 server signing off")
	c.expect_closed()


def test_pop3_line_limits(pop3_inst):
	"""RFC 2449 section 4: 255 octets per command line with CRLF."""
	c = pop3_inst.client(tls=True)
	r = c.cmd("USER " + "a" * 248)	# 253 octets + CRLF: accepted
	assert r == b"+OK Password required\r\n"
	assert c.cmd("USER " + "a" * 249) == b"-ERR Line too long\r\n"
	# A very long line is refused once, not buffered.
	c.send("NOOP " + "x" * 100000 + "\r\n")
	assert c.line() == b"-ERR Line too long\r\n"
	assert c.cmd("CAPA") == b"+OK Capability list follows\r\n"
	c.multi()
	assert c.cmd("USER \x01").startswith(b"-ERR Invalid character")
	assert c.cmd("QUITTER").startswith(b"-ERR")
	c.cmd_ok("QUIT")


def test_pop3_responses_at_most_512_octets(pop3_inst):
	inst = pop3_inst
	inst.clear(ALICE)
	inst.smtp_deliver(ALICE, message("resp"))
	c = inst.login(ALICE)
	for cmd in ("STAT", "LIST", "UIDL", "LIST 1", "UIDL 1", "NOOP",
	    "RETR 99", "CAPA", "TOP 1 0"):
		c.send(cmd + "\r\n")
		first = c.line()
		assert len(first) <= 512 and first[:3] in (b"+OK", b"-ER"), cmd
		if cmd in ("LIST", "UIDL", "CAPA", "TOP 1 0"):
			for l in c.raw_multi().split(b"\r\n"):
				if cmd != "TOP 1 0":
					assert len(l) + 2 <= 512
	c.cmd_ok("QUIT")


def test_pop3_http_client_is_dropped(pop3_inst):
	c = pop3_inst.client()
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	assert c.line() == b"-ERR This is a POP3 server\r\n"
	c.expect_closed()


def test_pop3_too_many_errors_closes(pop3_inst):
	c = pop3_inst.client()
	c.send("XXXX\r\n" * 40)	# max_errors = 30 in these instances
	out = c.expect_closed()
	assert out.count(b"-ERR Unknown command") == 30
	assert b"-ERR Too many errors, closing connection\r\n" in out


def test_pop3_shutdown_is_not_quit(pop3_factory):
	"""SIGTERM: an idle session is told [SYS/TEMP] and closed; its DELE
	marks are not applied (only QUIT leads to UPDATE)."""
	inst = pop3_factory()
	inst.smtp_deliver(ALICE, message("shutdown"))
	c = inst.login(ALICE)
	c.cmd_ok("DELE 1")
	inst.stop()
	out = c.expect_closed()
	assert out == b"-ERR [SYS/TEMP] Server shutting down, try again later\r\n"
	assert len(inst.files(ALICE)) == 1
