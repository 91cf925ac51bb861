"""SMTP smuggling (end-of-data confusion): only <CRLF>.<CRLF> ends DATA.

Each variant puts a fake end-of-data sequence mid-message, followed by the
text of a second transaction (MAIL/RCPT/DATA + a message carrying a
"smuggled" marker), then the real <CRLF>.<CRLF>. Whatever the server does,
exactly one reply comes back for the DATA, the result is exactly one message
(250, smuggled text inside it) or none (550 5.5.2, the default
bare_newline = reject), and the smuggled message exists in no Maildir and
not in the queue. Run against both bare_newline settings; the default must
refuse every variant (each contains a bare CR or LF)."""

import pytest

import sealpost_harness as H
from sealpost_harness import marker

# name -> fake end-of-data bytes placed after "first part"
VARIANTS = {
	"lf.lf": b"\n.\n",
	"lf.crlf": b"\n.\r\n",
	"cr.cr": b"\r.\r",
	"crlf.lf": b"\r\n.\n",
	"crlf.cr": b"\r\n.\r",
	"dot.lf": b".\n",		# "...text.<LF>" then the smuggled commands
	"cr.crlf": b"\r.\r\n",
	"crlf.crcrlf": b"\r\n.\r\r\n",
	"lf.cr": b"\n.\r",
}


@pytest.fixture(scope="module")
def reject(module_factory):
	return module_factory(name="smug-reject")


@pytest.fixture(scope="module")
def normalize(module_factory):
	return module_factory({"bare_newline": "normalize"}, name="smug-norm")


def smuggle(inst, fake, source=None):
	mk = marker()
	smk = "smuggled-" + mk
	first = ("From: <someone@example.org>\r\nTo: <alice@example.test>\r\n"
	    "Subject: first %s\r\n\r\nfirst part %s" % (mk, mk)).encode()
	second = ("MAIL FROM:<someone@example.org>\r\nRCPT TO:<bob@example.test>\r\n"
	    "DATA\r\nFrom: <someone@example.org>\r\nTo: <bob@example.test>\r\n"
	    "Subject: %s\r\n\r\n%s body\r\n" % (smk, smk)).encode()
	c = inst.client(source=source)
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(first + fake + second + b"\r\n.\r\n")
	r = c.reply()
	# Exactly one reply for the whole thing: nothing more is pending
	# (a split message would have produced 250 250 250 354 250 ...).
	assert c.nothing_pending(0.5 * H.SLOW), \
	    "extra replies after DATA (%r then %r): the message was split" % (r, c.buf)
	assert c.cmd("NOOP").is_(250, "2.0.0")
	# The session is out of any transaction: no smuggled MAIL is open.
	assert c.cmd("RCPT TO:<bob@example.test>").is_(503, "5.5.1")
	c.quit()
	return r, mk, smk


def check_outcome(inst, r, mk, smk):
	assert not inst.find("bob@example.test", smk), "smuggled message delivered to bob"
	firsts = inst.find("alice@example.test", mk)
	carriers = inst.find_anywhere(smk)
	assert len(carriers) == len(firsts), \
	    "smuggled text stored outside the one message: %r" % carriers
	for m in inst.find("alice@example.test", smk):
		assert mk.encode() in m, "a message of its own carries the smuggled text"
	if r.code == 250:
		assert len(firsts) == 1, "expected exactly one message, found %d" % len(firsts)
		# The smuggled text is inside the one message, not a message of its own.
		assert smk.encode() in firsts[0]
	else:
		assert r.is_(550, "5.5.2"), r
		assert not firsts
		assert not inst.find_anywhere(mk)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_smuggling_default_refuses(reject, name):
	fake = VARIANTS[name]
	r, mk, smk = smuggle(reject, fake)
	assert r.is_(550, "5.5.2"), (name, r)
	check_outcome(reject, r, mk, smk)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_smuggling_normalize_never_splits(normalize, name):
	r, mk, smk = smuggle(normalize, VARIANTS[name])
	assert r.code in (250, 550), r
	check_outcome(normalize, r, mk, smk)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_smuggling_trusted_client_same(reject, name):
	"""Trusted clients get no exception (a relay would forward the split)."""
	r, mk, smk = smuggle(reject, VARIANTS[name], source="127.0.0.2")
	assert r.is_(550, "5.5.2"), (name, r)
	check_outcome(reject, r, mk, smk)


@pytest.mark.parametrize("name", ["lf.lf", "crlf.lf", "cr.cr"])
def test_smuggling_in_bdat_never_splits(reject, name):
	mk = marker()
	smk = "smuggled-" + mk
	msg = ("Subject: %s\r\n\r\nfirst" % mk).encode() + VARIANTS[name] + \
	    ("MAIL FROM:<someone@example.org>\r\nRCPT TO:<bob@example.test>\r\n"
	    "DATA\r\nSubject: %s\r\n\r\nx\r\n.\r\n" % smk).encode()
	c = reject.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
	r = c.reply()
	assert r.is_(550, "5.5.2"), r
	assert c.nothing_pending(0.5 * H.SLOW), c.buf
	c.quit()
	assert not reject.find_anywhere(smk)
	assert not reject.find_anywhere(mk)
