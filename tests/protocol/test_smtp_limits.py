"""Every limit and bad input of the SMTP server: SIZE at MAIL and while
receiving, max recipients, over-long lines, error counting, idle and data
timeouts, sessions per client IP, bare CR/LF in DATA and BDAT (reject and
normalize)."""

import re
import socket
import time

import pytest

import sealpost_harness as H
from sealpost_harness import marker, simple_message

MAX = 1024 * 1024

LIMITS = {
	"max_message_size": "1M",
	"max_recipients": "3",
	"max_errors": "4",
	"max_sessions_per_ip": "3",
	"timeout_command": "3",
	"timeout_data_block": "3",
}


@pytest.fixture(scope="module")
def lim(module_factory):
	return module_factory(LIMITS, name="limits")


@pytest.fixture(scope="module")
def norm(module_factory):
	return module_factory({"bare_newline": "normalize"}, name="normalize")


def big_message(mk, size):
	line = ("z" * 76 + "\r\n").encode()
	head = simple_message(mk, body="")
	n = (size - len(head)) // len(line) + 1
	return head + line * n


def test_limit_ehlo_size_advertises_max(lim):
	c = lim.client()
	r = c.ehlo()
	assert r.keywords()["SIZE"].strip() == str(MAX), r
	c.quit()


def test_limit_size_param_over_max_is_552(lim):
	c = lim.client()
	c.ehlo()
	r = c.cmd("MAIL FROM:<someone@example.org> SIZE=%d" % (MAX + 1))
	assert r.is_(552, "5.3.4"), r
	r = c.cmd("MAIL FROM:<someone@example.org> SIZE=99999999999999999999999")
	assert r.code in (552, 501, 555), r
	r = c.cmd("MAIL FROM:<someone@example.org> SIZE=%d" % (MAX // 2))
	assert r.code == 250, r
	c.quit()


def test_limit_message_over_max_while_receiving_is_552(lim):
	mk = marker()
	msg = big_message(mk, MAX + 300 * 1024)
	c = lim.client()
	c.ehlo()
	r = c.mail_message("someone@example.org", ["alice@example.test"], msg)
	assert r.is_(552, "5.3.4"), r
	# The session survives and the next message goes through.
	assert c.cmd("NOOP").is_(250, "2.0.0")
	mk2 = marker()
	assert c.mail_message("someone@example.org", ["alice@example.test"],
	    simple_message(mk2)).code == 250
	c.quit()
	assert not lim.find_anywhere(mk)
	assert len(lim.find("alice@example.test", mk2)) == 1


def test_limit_message_under_max_accepted(lim):
	mk = marker()
	msg = big_message(mk, MAX - 64 * 1024)
	c = lim.client()
	c.ehlo()
	r = c.mail_message("someone@example.org", ["alice@example.test"], msg,
	    extra=" SIZE=%d" % len(msg))
	assert r.code == 250, r
	c.quit()
	got = lim.find("alice@example.test", mk)
	assert len(got) == 1 and H.split_trace(got[0])[1] == msg


def test_limit_bdat_over_max_is_552_and_stays_in_sync(lim):
	mk = marker()
	msg = big_message(mk, MAX + 100 * 1024)
	c = lim.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	half = len(msg) // 2
	c.send(b"BDAT %d\r\n" % half + msg[:half])
	r1 = c.reply()
	c.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
	if r1.code == 250:
		r2 = c.reply()
		assert r2.is_(552, "5.3.4"), r2
	else:
		assert r1.is_(552, "5.3.4"), r1
		r2 = c.reply()	# the second chunk is read and refused too
		assert 500 <= r2.code < 600, r2
	# The chunk bytes were consumed, not taken as commands.
	assert c.cmd("NOOP").is_(250, "2.0.0")
	c.quit()
	assert not lim.find_anywhere(mk)


def test_limit_too_many_recipients_is_452(lim):
	mk = marker()
	c = lim.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	for rc in ("alice@example.test", "bob@example.test", "sales@example.test"):
		assert c.cmd("RCPT TO:<%s>" % rc).code == 250
	r = c.cmd("RCPT TO:<list@example.test>")
	assert r.is_(452, "4.5.3"), r
	assert c.cmd("DATA").code == 354
	c.send(simple_message(mk) + b".\r\n")
	assert c.reply().code == 250
	c.quit()
	assert len(lim.find("bob@example.test", mk)) == 1
	assert 1 <= len(lim.find("alice@example.test", mk)) <= 2


def test_limit_command_line_too_long_is_500_and_session_survives(lim):
	c = lim.client()
	c.ehlo()
	r = c.cmd("NOOP " + "x" * 2000)
	assert r.is_(500, "5.5.6"), r
	assert c.cmd("NOOP").is_(250, "2.0.0")
	r = c.cmd("MAIL FROM:<%s@example.org>" % ("a" * 3000))
	assert r.is_(500, "5.5.6"), r
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	c.quit()


def test_limit_huge_line_does_not_buffer(lim):
	"""1 MB without a newline: one 500 5.5.6 (not many), the server keeps
	reading and discarding, and the session goes on."""
	c = lim.client()
	c.ehlo()
	c.send(b"NOOP " + b"y" * (1024 * 1024) + b"\r\n")
	r = c.reply()
	assert r.is_(500, "5.5.6"), r
	r = c.cmd("NOOP")
	# Either the session went on, or the error count closed it; never a
	# reply per kilobyte of junk.
	assert r.is_(250, "2.0.0") or r.code == 421, r
	c.close()


def test_limit_command_line_of_1000_octets_accepted(lim):
	"""RFC 5321 4.5.3.1.4 + extensions: accept up to 1000 octets."""
	c = lim.client()
	c.ehlo()
	local = "a" * 64
	dom = ".".join(["b" * 60] * 10) + ".example.org"	# long, but legal domain
	line = "MAIL FROM:<%s@%s> SIZE=100 BODY=8BITMIME" % (local, dom)
	assert len(line) + 2 <= 1000, len(line)
	r = c.cmd(line)
	assert r.enhanced != "5.5.6", r
	c.quit()


def test_limit_too_many_errors_421_and_close(lim):
	c = lim.client(source="127.0.0.21")
	c.ehlo()
	got421 = False
	for i in range(6):
		try:
			r = c.cmd("FROB%d" % i)
		except H.Closed:
			break
		if r.code == 421:
			assert r.enhanced == "4.7.0", r
			got421 = True
			break
		assert r.is_(500, "5.5.1"), r
	assert got421, "no 421 after %d errors (max_errors = 4)" % (i + 1)
	assert i <= 4, "closed only after %d errors" % (i + 1)
	c.expect_closed(timeout=5)


def test_limit_idle_timeout_421(lim):
	c = lim.client(source="127.0.0.22")
	c.ehlo()
	t0 = time.monotonic()
	r = c.reply()
	dt = time.monotonic() - t0
	assert r.is_(421, "4.4.2"), r
	assert 2.0 <= dt <= (3 + 3) * H.SLOW, dt
	c.expect_closed(timeout=5)


def test_limit_idle_timeout_before_ehlo(lim):
	c = lim.client(source="127.0.0.23")
	r = c.reply()
	assert r.is_(421, "4.4.2"), r
	c.expect_closed(timeout=5)


def test_limit_slow_command_line_421(lim):
	"""Slowloris: one byte at a time restarts the read timer, but a command
	line must be complete within timeout_command of its first byte."""
	c = lim.client(source="127.0.0.26")
	c.ehlo()
	t0 = time.monotonic()
	for ch in "NOOP NOOP NOOP NOOP NOOP":
		try:
			c.send(ch)
		except OSError:
			break	# already closed: the reply is still readable
		time.sleep(0.5)
		if time.monotonic() - t0 > 8 * H.SLOW:
			break
	r = c.reply()
	assert r.is_(421, "4.4.2"), r
	assert time.monotonic() - t0 < 8 * H.SLOW
	c.expect_closed(timeout=5)


def test_limit_data_block_timeout(lim):
	mk = marker()
	c = lim.client(source="127.0.0.24")
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(simple_message(mk))
	r = c.reply()
	assert r.code == 421 and r.enhanced in ("4.4.2", "4.4.1"), r
	c.expect_closed(timeout=5)
	assert not lim.find_anywhere(mk)


def test_limit_sessions_per_ip(lim):
	src = "127.0.0.25"
	held = [lim.client(source=src) for _ in range(3)]
	for h in held:
		assert h.greeting.code == 220
	extra = lim.client(source=src, greet=False)
	r = extra.reply()
	assert r.is_(421, "4.7.0"), r
	extra.expect_closed(timeout=5)
	# Another IP is not affected.
	other = lim.client(source="127.0.0.26")
	assert other.greeting.code == 220
	other.quit()
	# Freeing a slot lets the same IP in again.
	held.pop().quit()
	deadline = time.monotonic() + 5 * H.SLOW
	while True:
		again = lim.client(source=src, greet=False)
		r = again.reply()
		if r.code == 220 or time.monotonic() > deadline:
			break
		again.close()
		time.sleep(0.1)
	assert r.code == 220, r
	again.quit()
	for h in held:
		h.quit()


@pytest.mark.parametrize("body", [
	b"line one\nline two\r\n",
	b"line one\rline two\r\n",
	b"ends with bare lf\n\r\n",
	b"\n\r\n",
	b"cr before crlf\r\r\n",
], ids=["lf", "cr", "lf-before-crlf", "only-lf", "cr-cr-lf"])
def test_limit_bare_newline_rejected(lim, body):
	mk = marker()
	msg = simple_message(mk, body="") + body
	c = lim.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(msg + b".\r\n")
	r = c.reply()
	assert r.is_(550, "5.5.2"), r
	assert re.search(r"bare|LF|CR|line.?end|newline", r.text, re.I), r
	assert c.cmd("NOOP").is_(250, "2.0.0")
	c.quit()
	assert not lim.find_anywhere(mk)


def test_limit_bare_lf_in_header_rejected(lim):
	mk = marker()
	msg = ("From: <someone@example.org>\nSubject: %s\r\n\r\nbody\r\n" % mk).encode()
	c = lim.client()
	c.ehlo()
	r = c.mail_message("someone@example.org", ["alice@example.test"], msg)
	assert r.is_(550, "5.5.2"), r
	c.quit()
	assert not lim.find_anywhere(mk)


@pytest.mark.parametrize("chunk", [b"a\nb\r\n", b"a\rb\r\n"], ids=["lf", "cr"])
def test_limit_bdat_bare_newline_rejected(lim, chunk):
	mk = marker()
	msg = simple_message(mk, body="") + chunk
	c = lim.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
	r = c.reply()
	assert r.is_(550, "5.5.2"), r
	assert c.cmd("NOOP").is_(250, "2.0.0")
	c.quit()
	assert not lim.find_anywhere(mk)


def test_limit_bdat_bare_cr_split_across_chunks_rejected(lim):
	"""A CR at the end of one chunk and a non-LF at the start of the next
	is a bare CR too."""
	mk = marker()
	head = simple_message(mk, body="")
	c = lim.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	part1 = head + b"abc\r"
	part2 = b"def\r\n"
	c.send(b"BDAT %d\r\n" % len(part1) + part1)
	r1 = c.reply()
	c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
	r2 = c.reply() if r1.code == 250 else r1
	assert r2.is_(550, "5.5.2"), (r1, r2)
	c.quit()
	assert not lim.find_anywhere(mk)


def test_limit_bdat_crlf_split_across_chunks_accepted(lim):
	mk = marker()
	msg = simple_message(mk, body="abc\r\ndef\r\n")
	cut = msg.index(b"abc\r") + 4	# between CR and LF
	c = lim.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	c.send(b"BDAT %d\r\n" % cut + msg[:cut])
	assert c.reply().code == 250
	c.send(b"BDAT %d LAST\r\n" % (len(msg) - cut) + msg[cut:])
	r = c.reply()
	assert r.code == 250, r
	c.quit()
	got = lim.find("alice@example.test", mk)
	assert len(got) == 1 and H.split_trace(got[0])[1] == msg


def test_limit_bare_newline_normalize_stores_crlf(norm):
	mk = marker()
	msg = simple_message(mk, body="") + b"one\ntwo\rthree\r\nfour\n"
	c = norm.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(msg + b"\r\n.\r\n")
	r = c.reply()
	assert r.code == 250, r
	c.quit()
	got = norm.find("alice@example.test", mk)
	assert len(got) == 1
	stored = H.split_trace(got[0])[1]
	assert b"\n" not in stored.replace(b"\r\n", b""), stored
	assert b"\r" not in stored.replace(b"\r\n", b""), stored
	assert stored.endswith(b"one\r\ntwo\r\nthree\r\nfour\r\n\r\n"), stored


def test_limit_bdat_bare_newline_normalize(norm):
	mk = marker()
	msg = simple_message(mk, body="") + b"one\ntwo\r\n"
	c = norm.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
	r = c.reply()
	assert r.code == 250, r
	c.quit()
	got = norm.find("alice@example.test", mk)
	assert len(got) == 1
	assert H.split_trace(got[0])[1].endswith(b"one\r\ntwo\r\n")


def test_limit_max_sessions_overall(make_instance):
	"""docs/config.md: max_sessions counts every session of the server
	(all workers together); beyond it new connections get 421 and close."""
	inst = make_instance({"max_sessions": "3"}, name="maxsess")
	held = []
	deadline = time.monotonic() + 5 * H.SLOW
	while len(held) < 3:
		c = inst.client(source="127.0.0.%d" % (40 + len(held)), greet=False)
		r = c.reply()
		if r.code == 220:
			held.append(c)
			continue
		# The harness's readiness check may not be released yet (its
		# worker notices the close asynchronously): try again.
		c.close()
		assert r.code == 421 and time.monotonic() < deadline, r
		time.sleep(0.1)
	extra = inst.client(source="127.0.0.45", greet=False)
	r = extra.reply()
	assert r.code == 421 and r.enhanced in ("4.7.0", "4.3.2"), r
	extra.expect_closed(timeout=5)
	held.pop().quit()
	deadline = time.monotonic() + 5 * H.SLOW
	while True:
		again = inst.client(source="127.0.0.46", greet=False)
		r = again.reply()
		if r.code == 220 or time.monotonic() > deadline:
			break
		again.close()
		time.sleep(0.1)
	assert r.code == 220, r
	again.quit()
	for h in held:
		h.quit()
