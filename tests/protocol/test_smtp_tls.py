"""STARTTLS (RFC 3207) on 25 and 587, implicit TLS on 465 (RFC 8314), the
STARTTLS command-injection defence, handshake timeouts, TLS versions, and
the Received header of mail that came over TLS."""

import re
import socket
import ssl
import time

import pytest

import sealpost_harness as H
from sealpost_harness import marker, simple_message


def test_tls_starttls_on_25_then_ehlo_drops_starttls(inst):
	c = inst.client()
	c.ehlo()
	c.starttls()
	assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
	r = c.ehlo()
	kw = r.keywords()
	assert "STARTTLS" not in kw, r
	for k in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
	    "SMTPUTF8", "CHUNKING"):
		assert k in kw, (k, r)
	c.quit()


def test_tls_certificate_verifies_for_hostname_and_ip(inst):
	ctx = ssl.create_default_context(cafile=inst.cert)
	for name in (H.HOSTNAME, "localhost"):
		s = socket.create_connection(("127.0.0.1", inst.submissions), timeout=10 * H.SLOW)
		t = ctx.wrap_socket(s, server_hostname=name)
		t.close()
	s = socket.create_connection(("127.0.0.1", inst.submissions), timeout=10 * H.SLOW)
	t = ctx.wrap_socket(s, server_hostname="127.0.0.1")	# IP SAN
	t.close()


def test_tls_prefers_tls13(inst):
	c = inst.client("submissions")
	assert c.sock.version() == "TLSv1.3", c.sock.version()
	c.quit()


def test_tls12_still_accepted(inst):
	ctx = ssl.create_default_context(cafile=inst.cert)
	ctx.maximum_version = ssl.TLSVersion.TLSv1_2
	s = socket.create_connection(("127.0.0.1", inst.submissions), timeout=10 * H.SLOW)
	t = ctx.wrap_socket(s, server_hostname=H.HOSTNAME)
	assert t.version() == "TLSv1.2"
	f = t.makefile("rb")
	assert f.readline().startswith(b"220 ")
	t.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_below_12_refused(inst):
	"""RFC 8996: no TLS 1.0/1.1. The client offers at most TLS 1.1."""
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	try:
		ctx.minimum_version = ssl.TLSVersion.TLSv1
		ctx.maximum_version = ssl.TLSVersion.TLSv1_1
		ctx.set_ciphers("ALL:@SECLEVEL=0")
	except (ValueError, ssl.SSLError) as e:
		pytest.skip("local OpenSSL cannot offer TLS 1.1: %s" % e)
	s = socket.create_connection(("127.0.0.1", inst.submissions), timeout=10 * H.SLOW)
	with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
		t = ctx.wrap_socket(s, server_hostname=H.HOSTNAME)
		v = t.version()
		t.close()
		raise AssertionError("handshake succeeded with %s" % v)
	s.close()


def test_tls_starttls_twice_refused(inst):
	c = inst.client()
	c.ehlo()
	c.starttls()
	c.ehlo()
	r = c.cmd("STARTTLS")
	assert 500 <= r.code < 600, r
	c.quit()


def test_tls_starttls_with_argument_is_501(inst):
	c = inst.client()
	c.ehlo()
	r = c.cmd("STARTTLS now")
	assert r.is_(501, "5.5.4") or r.is_(501, "5.5.2"), r
	c.quit()


def test_tls_session_restarts_after_starttls(inst):
	"""RFC 3207 4.2: after the handshake the server forgets the earlier
	EHLO; MAIL without a new EHLO is a bad sequence."""
	c = inst.client()
	c.ehlo()
	c.starttls()
	r = c.cmd("MAIL FROM:<someone@example.org>")
	assert r.is_(503, "5.5.1"), r
	c.quit()


def test_tls_starttls_in_transaction_is_refused_or_resets(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	r = c.cmd("STARTTLS")
	if r.code == 220:
		c._wrap()
		c.ehlo()
		# The earlier transaction is gone.
		assert c.cmd("RCPT TO:<alice@example.test>").is_(503, "5.5.1")
	else:
		assert r.code == 503, r
	c.quit()


@pytest.mark.parametrize("service", ["smtp", "submission"])
def test_tls_starttls_injection_discarded(inst, service):
	"""The CVE-2011-0411 class: commands pipelined after STARTTLS in the
	same packet must not be executed inside the TLS session."""
	c = inst.client(service)
	c.ehlo()
	c.send("STARTTLS\r\nRSET\r\n")
	r = c.reply()
	assert r.code == 220, r
	# No plaintext answer to the RSET may follow the 220...
	assert c.buf == b"", "server answered the injected command in plaintext: %r" % c.buf
	c._wrap()
	# ...nor an answer inside TLS.
	assert c.nothing_pending(0.7 * H.SLOW), "injected RSET answered after TLS: %r" % c.buf
	r = c.cmd("EHLO client.example.org")
	assert r.code == 250 and r.lines[0].startswith(H.HOSTNAME), r
	c.quit()


def test_tls_starttls_injection_mail_not_executed(inst):
	mk = marker()
	c = inst.client()
	c.ehlo()
	c.send("STARTTLS\r\nMAIL FROM:<someone@example.org>\r\nRCPT TO:<alice@example.test>\r\n")
	assert c.reply().code == 220
	c._wrap()
	assert c.nothing_pending(0.5 * H.SLOW), c.buf
	c.ehlo()
	# The injected MAIL did not open a transaction.
	assert c.cmd("DATA").is_(503, "5.5.1")
	c.quit()
	assert not inst.find("alice@example.test", mk)


def test_tls_implicit_465_greeting_and_ehlo(inst):
	c = inst.client("submissions")
	assert c.greeting.code == 220 and c.greeting.lines[0].startswith(H.HOSTNAME)
	r = c.ehlo()
	kw = r.keywords()
	assert "STARTTLS" not in kw, r
	mechs = kw.get("AUTH", "").upper().split()
	for m in ("PLAIN", "LOGIN", "SCRAM-SHA-256"):
		assert m in mechs, r
	c.quit()


def test_tls_plaintext_to_465_dropped_and_does_not_block(inst):
	"""timeout_tls_handshake = 2 in the test configuration."""
	stall = socket.create_connection(("127.0.0.1", inst.submissions), timeout=10 * H.SLOW)
	stall.sendall(b"EHLO plaintext.example.org\r\n")
	silent = socket.create_connection(("127.0.0.1", inst.submissions), timeout=10 * H.SLOW)
	t0 = time.monotonic()
	# Meanwhile a proper TLS client is served at once.
	c = inst.client("submissions")
	assert c.greeting.code == 220
	assert time.monotonic() - t0 < 1.5 * H.SLOW
	c.quit()
	for s in (stall, silent):
		s.settimeout(10 * H.SLOW)
		data = b""
		try:
			while True:
				d = s.recv(4096)
				if not d:
					break
				data += d
		except ConnectionResetError:
			pass
		# Never a plaintext SMTP greeting on the implicit-TLS port.
		assert not data.startswith(b"220"), data
		s.close()
	elapsed = time.monotonic() - t0
	assert elapsed < (2 + 2.5) * H.SLOW, "dropped only after %.1fs" % elapsed


def test_tls_stalled_starttls_handshake_dropped(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("STARTTLS").code == 220
	t0 = time.monotonic()
	# Send nothing: the handshake never starts.
	c.expect_closed(timeout=6)
	assert time.monotonic() - t0 < (2 + 2.5) * H.SLOW


def test_tls_received_says_esmtps_and_tls_version(inst):
	mk = marker()
	c = inst.client()
	c.ehlo()
	c.starttls()
	ver = c.sock.version()
	c.ehlo()
	assert c.mail_message("someone@example.org", ["alice@example.test"],
	    simple_message(mk)).code == 250
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1
	trace, _ = H.split_trace(got[0])
	rcv = b"".join(t for t in trace if t.lower().startswith(b"received:")).decode()
	rcv = re.sub(r"\s+", " ", rcv)
	assert re.search(r"\bwith ESMTPS\b", rcv), rcv
	assert "ESMTPSA" not in rcv, rcv
	num = ver.replace("TLSv", "")	# "1.3"
	assert re.search(r"TLS ?v?%s" % re.escape(num), rcv), (ver, rcv)
