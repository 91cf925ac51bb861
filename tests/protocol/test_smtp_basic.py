"""RFC 5321 basics on port 25 without TLS: greeting, EHLO/HELO, every
command's reply codes, address syntax, local delivery with trace headers,
relay and anti-spoofing policy, PIPELINING, CHUNKING, SMTPUTF8, 8BITMIME.

The ordinary client connects from 127.0.0.1, which is *not* in the test
instance's trusted_networks (127.0.0.2/32); `source="127.0.0.2"` makes a
trusted client.
"""

import re

import pytest

import sealpost_harness as H
from sealpost_harness import marker, simple_message

TRUSTED = "127.0.0.2"


def test_smtp_greeting_names_hostname_and_esmtp(inst):
	c = inst.client()
	g = c.greeting
	assert g.code == 220, g
	assert re.match(r"^%s ESMTP\b" % re.escape(H.HOSTNAME), g.lines[0]), g
	c.quit()


def test_smtp_ehlo_lists_extensions_without_auth_before_tls(inst):
	c = inst.client()
	r = c.ehlo()
	assert r.lines[0].split()[0] == H.HOSTNAME, r
	kw = r.keywords()
	for k in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES",
	    "STARTTLS", "SMTPUTF8", "CHUNKING"):
		assert k in kw, (k, r)
	assert "AUTH" not in kw, r
	assert not any(k.startswith("AUTH") for k in kw), r
	# SIZE carries the configured maximum (default 50M).
	assert kw["SIZE"].strip() == str(50 * 1024 * 1024), r
	c.quit()


def test_smtp_helo_answers_250_and_no_extensions(inst):
	c = inst.client()
	r = c.cmd("HELO msrahman.bdmail.net")
	assert r.code == 250 and len(r.lines) == 1, r
	c.quit()


def test_smtp_commands_are_case_insensitive(inst):
	c = inst.client()
	assert c.cmd("ehlo client.example.org").code == 250
	assert c.cmd("mail from:<someone@example.org>").code == 250
	assert c.cmd("rCpT tO:<alice@example.test>").code == 250
	assert c.cmd("rset").is_(250, "2.0.0")
	assert c.cmd("noop").is_(250, "2.0.0")
	assert c.cmd("quit").is_(221, "2.0.0")


@pytest.mark.parametrize("line,code,enh", [
	("FROB", 500, "5.5.1"),
	("XYZZY something", 500, "5.5.1"),
	("NOOP", 250, "2.0.0"),
	("RSET", 250, "2.0.0"),
	("EXPN list@example.test", 502, "5.5.1"),
	("RCPT TO:<alice@example.test>", 503, "5.5.1"),
	("DATA", 503, "5.5.1"),
	# RFC 3030 2: the chunk is read even when the command is refused.
	("BDAT 10 LAST\r\n0123456789", 503, "5.5.1"),
])
def test_smtp_command_reply_codes(inst, line, code, enh):
	c = inst.client()
	c.ehlo()
	if "\r\n" in line:	# a command with its data: sent as is
		c.send(line)
		r = c.reply()
	else:
		r = c.cmd(line)
	assert r.is_(code, enh), (line, r)
	# The session survives a single error.
	assert c.cmd("NOOP").is_(250, "2.0.0")
	c.quit()


def test_smtp_help_is_214(inst):
	c = inst.client()
	c.ehlo()
	r = c.cmd("HELP")
	assert r.code == 214, r
	c.quit()


def test_smtp_quit_is_221_and_closes(inst):
	c = inst.client()
	c.ehlo()
	r = c.cmd("QUIT")
	assert r.is_(221, "2.0.0"), r
	c.expect_closed()


def test_smtp_mail_before_ehlo_is_503(inst):
	c = inst.client()
	r = c.cmd("MAIL FROM:<someone@example.org>")
	assert r.is_(503, "5.5.1"), r
	c.quit()


def test_smtp_data_after_rejected_rcpt_is_503(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<nobody@example.test>").is_(550, "5.1.1")
	r = c.cmd("DATA")
	assert r.is_(503, "5.5.1"), r
	c.quit()


def test_smtp_nested_mail_is_503(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("MAIL FROM:<someone@example.org>").is_(503, "5.5.1")
	assert c.cmd("RSET").is_(250, "2.0.0")
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	c.quit()


@pytest.mark.parametrize("line,enhs", [
	("MAIL FROM:someone@example.org", ("5.5.2", "5.1.7")),
	("MAIL FROM:<someone@@example.org>", ("5.5.2", "5.1.7")),
	("MAIL FROM:<some one@example.org>", ("5.5.2", "5.1.7")),
	("MAIL FROM:<someone@example.org", ("5.5.2", "5.1.7")),
	("MAIL TO:<someone@example.org>", ("5.5.2",)),
	("MAIL", ("5.5.2",)),
])
def test_smtp_mail_syntax_error_is_501(inst, line, enhs):
	c = inst.client()
	c.ehlo()
	r = c.cmd(line)
	assert r.code == 501 and r.enhanced in enhs, (line, r)
	c.quit()


@pytest.mark.parametrize("line,enhs", [
	("RCPT TO:alice@example.test", ("5.5.2", "5.1.3")),
	("RCPT TO:<alice@@example.test>", ("5.5.2", "5.1.3")),
	("RCPT TO:<>", ("5.5.2", "5.1.3")),
	("RCPT TO:<alice@example.test", ("5.5.2", "5.1.3")),
	("RCPT FROM:<alice@example.test>", ("5.5.2",)),
])
def test_smtp_rcpt_syntax_error_is_501(inst, line, enhs):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	r = c.cmd(line)
	assert r.code == 501 and r.enhanced in enhs, (line, r)
	c.quit()


@pytest.mark.parametrize("params", ["FOO=BAR", "XYZ", "BODY=9BIT", "SIZE=abc"])
def test_smtp_unknown_or_bad_mail_param(inst, params):
	c = inst.client()
	c.ehlo()
	r = c.cmd("MAIL FROM:<someone@example.org> " + params)
	if params in ("FOO=BAR", "XYZ"):
		assert r.is_(555, "5.5.4"), (params, r)
	else:
		# A known parameter with a bad value: 501 or 555 (RFC 5321 4.1.1.11).
		assert r.code in (501, 555) and r.enhanced in ("5.5.4", "5.5.2"), (params, r)
	c.quit()


def test_smtp_unknown_rcpt_param_is_555(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	r = c.cmd("RCPT TO:<alice@example.test> FOO=BAR")
	assert r.is_(555, "5.5.4"), r
	c.quit()


def test_smtp_vrfy_never_reveals_existence(inst):
	c = inst.client()
	c.ehlo()
	a = c.cmd("VRFY alice@example.test")
	b = c.cmd("VRFY nosuchuser@example.test")
	d = c.cmd("VRFY alice")
	assert a.is_(252, "2.5.0"), a
	assert b.is_(252, "2.5.0"), b
	assert d.is_(252, "2.5.0"), d
	# Same reply text, apart from an echo of the argument.
	ta = a.text.replace("alice@example.test", "X")
	tb = b.text.replace("nosuchuser@example.test", "X")
	assert ta == tb, (a, b)
	c.quit()


def test_smtp_unknown_local_recipient_is_550_at_rcpt(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	r = c.cmd("RCPT TO:<nosuchuser@example.test>")
	assert r.is_(550, "5.1.1"), r
	# A local domain in another case is still local.
	r = c.cmd("RCPT TO:<nosuchuser@EXAMPLE.TEST>")
	assert r.is_(550, "5.1.1"), r
	c.quit()


def test_smtp_relay_denied_for_outsider(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	r = c.cmd("RCPT TO:<friend@example.net>")
	assert r.is_(554, "5.7.1"), r
	c.quit()


def test_smtp_relay_allowed_from_trusted_network_goes_to_queue(inst):
	mk = marker()
	c = inst.client(source=TRUSTED)
	c.ehlo()
	r = c.mail_message("someone@example.org", ["friend@example.net"],
	    simple_message(mk, to="friend@example.net"))
	assert r.code == 250, r
	c.quit()
	# Durably written into queue/, never into a local Maildir.
	assert any(mk.encode() in p.read_bytes() for p in inst.queue_files()), \
	    "message not found under %s" % (inst.data / "queue")
	assert not [p for p, m in inst.all_messages() if mk.encode() in m]


def test_smtp_spoofing_local_sender_refused_with_reason(inst):
	"""The founding document's walkthrough: an outsider claims
	lisa@<local domain> (lisa does not even need to exist)."""
	for sender in ("lisa@example.test", "alice@example.test", "Alice@EXAMPLE.test"):
		c = inst.client()
		c.ehlo()
		r = c.cmd("MAIL FROM:<%s>" % sender)
		assert r.is_(550, "5.7.1"), (sender, r)
		# The text says why: authentication is needed for a local sender.
		assert re.search(r"auth|local|domain|not allowed|spoof|login",
		    r.text, re.I), r
		c.quit()


def test_smtp_spoofing_via_helo_path_refused(inst):
	c = inst.client()
	assert c.cmd("HELO outside.example.org").code == 250
	r = c.cmd("MAIL FROM:<lisa@example.test>")
	assert r.code == 550, r
	c.quit()


def test_smtp_local_sender_allowed_from_trusted_network(inst):
	mk = marker()
	c = inst.client(source=TRUSTED)
	c.ehlo()
	r = c.mail_message("bob@example.test", ["alice@example.test"],
	    simple_message(mk, sender="bob@example.test"))
	assert r.code == 250, r
	c.quit()
	assert len(inst.find("alice@example.test", mk)) == 1


def test_smtp_garbage_sender_domain_refused(inst):
	"""Founding document: 'even if you put some garbage address say,
	hsgds8q@ajhdjdsasd.wqer ... it will work'. It must not."""
	c = inst.client()
	c.ehlo()
	r = c.cmd("MAIL FROM:<hsgds8q@ajhdjdsasd.wqer>")
	assert r.is_(550, "5.1.8"), r
	assert "Domain not found" in r.text, r
	c.quit()


def test_smtp_delivery_stores_trace_headers_and_exact_body(inst):
	mk = marker()
	msg = simple_message(mk, body="Line one %s\r\n.leading dot\r\n..two dots\r\n"
	    "trailing spaces   \r\n\r\nlast\r\n" % mk)
	c = inst.client()
	c.ehlo("client.example.org")
	r = c.mail_message("someone@example.org", ["alice@example.test"], msg)
	assert r.code == 250 and r.enhanced is not None and r.enhanced.startswith("2."), r
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1
	trace, rest = H.split_trace(got[0])
	assert rest == msg, (rest, msg)
	assert trace[0].lower().startswith(b"return-path:"), trace
	assert trace[0].rstrip() .endswith(b"<someone@example.org>"), trace
	received = [t for t in trace if t.lower().startswith(b"received:")]
	assert received, trace
	rcv = received[0].decode()
	assert "client.example.org" in rcv and "127.0.0.1" in rcv, rcv
	assert H.HOSTNAME in rcv, rcv
	assert re.search(r"\bwith ESMTP\b", rcv) and "ESMTPS" not in rcv, rcv
	# Every line in the stored file ends in CRLF (Maildir keeps CRLF).
	assert b"\n" not in got[0].replace(b"\r\n", b""), got[0][:200]


def test_smtp_maildir_file_name_carries_size(inst):
	mk = marker()
	c = inst.client()
	c.ehlo()
	assert c.mail_message("someone@example.org", ["bob@example.test"],
	    simple_message(mk, to="bob@example.test")).code == 250
	c.quit()
	md = inst.maildir("bob@example.test") / "new"
	names = [p for p in md.iterdir() if mk.encode() in p.read_bytes()]
	assert len(names) == 1
	m = re.search(r",S=(\d+)", names[0].name)
	assert m, names[0].name
	assert int(m.group(1)) == names[0].stat().st_size


def test_smtp_helo_received_says_smtp(inst):
	mk = marker()
	c = inst.client()
	assert c.cmd("HELO old.example.org").code == 250
	assert c.mail_message("someone@example.org", ["alice@example.test"],
	    simple_message(mk)).code == 250
	c.quit()
	trace, _ = H.split_trace(inst.find("alice@example.test", mk)[0])
	rcv = b"".join(t for t in trace if t.lower().startswith(b"received:")).decode()
	assert re.search(r"\bwith SMTP\b", rcv), rcv


def test_smtp_alias_delivers_to_each_target_once(inst):
	mk = marker()
	c = inst.client()
	c.ehlo()
	r = c.mail_message("someone@example.org", ["list@example.test", "alice@example.test"],
	    simple_message(mk, to="list@example.test"))
	assert r.code == 250, r
	c.quit()
	assert len(inst.find("bob@example.test", mk)) == 1
	# alice is both a direct recipient and a target of list: at least one
	# copy, never a lost one.
	assert 1 <= len(inst.find("alice@example.test", mk)) <= 2


@pytest.mark.parametrize("sender", [
	"", '"john doe"@example.org', '"weird\\"quote"@example.org',
	"@relay.example.org:someone@example.org", "someone+tag@example.org",
	"someone@[127.0.0.1]",
])
def test_smtp_sender_address_forms_accepted(inst, sender):
	c = inst.client()
	c.ehlo()
	r = c.cmd("MAIL FROM:<%s>" % sender)
	assert r.code == 250, (sender, r)
	c.quit()


def test_smtp_source_route_in_recipient_ignored(inst):
	mk = marker()
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	r = c.cmd("RCPT TO:<@relay.example.org,@other.example.org:alice@example.test>")
	assert r.code == 250, r
	assert c.cmd("DATA").code == 354
	c.send(simple_message(mk) + b".\r\n")
	assert c.reply().code == 250
	c.quit()
	assert len(inst.find("alice@example.test", mk)) == 1


def test_smtp_null_sender_delivered_with_empty_return_path(inst):
	mk = marker()
	c = inst.client()
	c.ehlo()
	assert c.mail_message("", ["alice@example.test"], simple_message(mk)).code == 250
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1
	assert got[0].startswith(b"Return-Path: <>\r\n"), got[0][:100]


def test_smtp_postmaster_without_domain_accepted(inst):
	"""RFC 5321 4.5.1: <postmaster> must be accepted."""
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	r = c.cmd("RCPT TO:<postmaster>")
	assert r.code == 250, r
	r = c.cmd("RCPT TO:<Postmaster@example.test>")
	assert r.code == 250, r
	c.quit()


def test_smtp_pipelining_replies_in_order(inst):
	mk = marker()
	c = inst.client()
	c.ehlo()
	c.send("MAIL FROM:<someone@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
	    "RCPT TO:<nosuchuser@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
	codes = [c.reply() for _ in range(5)]
	assert [r.code for r in codes] == [250, 250, 550, 250, 354], codes
	c.send(simple_message(mk) + b".\r\nNOOP\r\nQUIT\r\n")
	assert c.reply().code == 250
	assert c.reply().is_(250, "2.0.0")
	assert c.reply().is_(221, "2.0.0")
	assert len(inst.find("alice@example.test", mk)) == 1
	assert len(inst.find("bob@example.test", mk)) == 1


def test_smtp_pipelining_two_messages_in_one_write(inst):
	mk1, mk2 = marker(), marker()
	c = inst.client()
	c.ehlo()
	c.send(b"MAIL FROM:<someone@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
	assert [c.reply().code for _ in range(3)] == [250, 250, 354]
	c.send(simple_message(mk1) + b".\r\nMAIL FROM:<someone@example.org>\r\n"
	    b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
	assert [c.reply().code for _ in range(4)] == [250, 250, 250, 354]
	c.send(simple_message(mk2) + b".\r\n")
	assert c.reply().code == 250
	c.quit()
	a = inst.find("alice@example.test", mk1)
	b = inst.find("alice@example.test", mk2)
	assert len(a) == 1 and len(b) == 1
	assert mk2.encode() not in a[0] and mk1.encode() not in b[0]


def test_smtp_chunking_bdat(inst):
	mk = marker()
	msg = simple_message(mk, body="bdat body %s\r\n.line starting with dot\r\n" % mk)
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	half = len(msg) // 2
	c.send(b"BDAT %d\r\n" % half + msg[:half])
	r = c.reply()
	assert r.code == 250, r
	c.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
	r = c.reply()
	assert r.code == 250, r
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1
	# BDAT data is not dot-stuffed: the leading dot stays.
	assert H.split_trace(got[0])[1] == msg


def test_smtp_chunking_bdat_zero_last_and_pipelined(inst):
	mk = marker()
	msg = simple_message(mk)
	c = inst.client()
	c.ehlo()
	c.send(b"MAIL FROM:<someone@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
	    + b"BDAT %d\r\n" % len(msg) + msg + b"BDAT 0 LAST\r\n")
	codes = [c.reply() for _ in range(4)]
	assert [r.code for r in codes] == [250, 250, 250, 250], codes
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1 and H.split_trace(got[0])[1] == msg


def test_smtp_chunking_data_after_bdat_is_503(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	c.send(b"BDAT 5\r\nhello")
	assert c.reply().code == 250
	r = c.cmd("DATA")
	assert r.code == 503, r
	c.quit()


def test_smtp_chunking_bdat_bad_size_is_501(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	r = c.cmd("BDAT abc")
	assert r.code == 501, r
	# The server cannot know where the chunk ends: closing is allowed.
	try:
		c.quit()
	except H.Closed:
		pass


def test_smtp_smtputf8_sender_accepted_from_trusted(inst):
	mk = marker()
	c = inst.client(source=TRUSTED)
	c.ehlo()
	r = c.cmd("MAIL FROM:<ü@example.org> SMTPUTF8")
	assert r.code == 250, r
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(simple_message(mk, sender="ü@example.org") + b".\r\n")
	assert c.reply().code == 250
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1
	assert "Return-Path: <ü@example.org>".encode() in got[0]


def test_smtp_utf8_sender_without_smtputf8_is_553(inst):
	c = inst.client(source=TRUSTED)
	c.ehlo()
	r = c.cmd("MAIL FROM:<ü@example.org>")
	assert r.is_(553, "5.6.7"), r
	c.quit()


def test_smtp_8bitmime_body_stored_intact(inst):
	mk = marker()
	body = "Grüße aus Köln, %s\r\n\xe9t\xe9\r\n" % mk
	msg = simple_message(mk, body=body, extra_headers="Content-Type: text/plain; "
	    "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n")
	c = inst.client()
	c.ehlo()
	r = c.mail_message("someone@example.org", ["alice@example.test"], msg,
	    extra=" BODY=8BITMIME")
	assert r.code == 250, r
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1 and H.split_trace(got[0])[1] == msg


def test_smtp_body_lines_longer_than_1000_accepted_intact(inst):
	mk = marker()
	long1 = "x" * 5000
	long2 = ("y" * 70000)
	msg = simple_message(mk, body="%s\r\n%s\r\n%s\r\n" % (long1, mk, long2))
	c = inst.client()
	c.ehlo()
	r = c.mail_message("someone@example.org", ["alice@example.test"], msg)
	assert r.code == 250, r
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1 and H.split_trace(got[0])[1] == msg


def test_smtp_rset_clears_transaction(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("RSET").is_(250, "2.0.0")
	assert c.cmd("DATA").is_(503, "5.5.1")
	assert c.cmd("RCPT TO:<alice@example.test>").is_(503, "5.5.1")
	c.quit()


def test_smtp_ehlo_resets_transaction(inst):
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	c.ehlo()
	assert c.cmd("RCPT TO:<alice@example.test>").is_(503, "5.5.1")
	c.quit()


def test_smtp_auth_on_port25_before_tls_refused(inst):
	c = inst.client()
	c.ehlo()
	r = c.auth_plain("alice@example.test", H.USERS["alice@example.test"])
	assert (r.code, r.enhanced) in ((530, "5.7.0"), (538, "5.7.11")), r
	r = c.cmd("AUTH LOGIN")
	assert (r.code, r.enhanced) in ((530, "5.7.0"), (538, "5.7.11")), r
	c.quit()


def test_smtp_http_request_closes_connection(inst):
	"""STYLE §2: a GET/POST line ends the session (cross-protocol attack)."""
	c = inst.client()
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	data = c.expect_closed(timeout=5)
	assert b"250" not in data, data


@pytest.mark.parametrize("setup", [[], ["MAIL FROM:<someone@example.org>"]],
    ids=["no-mail", "no-rcpt"])
def test_smtp_refused_bdat_chunk_is_not_parsed_as_commands(inst, setup):
	"""RFC 3030 2: 'If a failure occurs after a BDAT command is received,
	the receiver-SMTP MUST accept and discard the associated message data
	before sending the appropriate 5XX or 4XX code.' Otherwise the chunk
	is command injection."""
	c = inst.client()
	c.ehlo()
	for line in setup:
		assert c.cmd(line).code == 250
	chunk = b"NOOP\r\nNOOP\r\n"
	c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
	r = c.reply()
	assert r.is_(503, "5.5.1"), r
	assert c.nothing_pending(0.5 * H.SLOW), \
	    "the refused chunk was executed as commands: %r" % c.buf
	c.quit()


def header_lines_well_formed(msg):
	"""Every line of the header section is `Name: value` or a folded
	continuation (RFC 5322 2.2); returns the offending lines."""
	head = msg.split(b"\r\n\r\n", 1)[0]
	bad = []
	for line in head.split(b"\r\n"):
		if line[:1] in (b" ", b"\t"):
			continue
		if not re.match(rb"^[!-9;-~]+:", line):
			bad.append(line)
	return bad


@pytest.mark.parametrize("rcpts", [["alice@example.test"],
    ["alice@example.test", "bob@example.test"]], ids=["one-rcpt", "two-rcpts"])
def test_smtp_trace_headers_well_formed(inst, rcpts):
	"""RFC 5321 4.4 / RFC 5322 3.6.7: the prepended Return-Path and Received
	fields are syntactically valid header fields."""
	mk = marker()
	c = inst.client()
	c.ehlo()
	assert c.mail_message("someone@example.org", rcpts, simple_message(mk)).code == 250
	c.quit()
	for a in rcpts:
		got = inst.find(a, mk)
		assert len(got) == 1
		assert header_lines_well_formed(got[0]) == [], got[0][:400]
		rcv = H.header_fields(got[0])["received"][0]
		# The date-time after the last ';' (RFC 5321 4.4 Time-stamp-line).
		assert re.search(r";\s*\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", rcv), rcv


def test_smtp_one_byte_at_a_time(inst):
	"""Commands, data and the end-of-data sequence split into single-byte
	segments: the bounded line reader and DATA reader must resume."""
	import socket as _s
	mk = marker()
	msg = simple_message(mk, body=".dot\r\nline\r\n")
	c = inst.client()
	c.sock.setsockopt(_s.IPPROTO_TCP, _s.TCP_NODELAY, 1)

	def trickle(data):
		for i in range(len(data)):
			c.send(data[i:i + 1])

	trickle(b"EHLO bytewise.example.org\r\n")
	assert c.reply().code == 250
	trickle(b"MAIL FROM:<someone@example.org>\r\n")
	assert c.reply().code == 250
	trickle(b"RCPT TO:<alice@example.test>\r\n")
	assert c.reply().code == 250
	trickle(b"DATA\r\n")
	assert c.reply().code == 354
	trickle(H.dot_stuff(msg) + b".\r\n")
	r = c.reply()
	assert r.code == 250, r
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1 and H.split_trace(got[0])[1] == msg
