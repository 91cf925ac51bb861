"""DMARC in the SMTP session (issue 4, RFC 7489, docs/authenticity.md):
the From domain's policy is looked up while the body streams in and
evaluated at the end of the data with SPF (from MAIL) and DKIM (dkimpy
signatures): p=reject and fail is 550 5.7.1 with the reason and nothing
stored, p=quarantine is delivered with an X-Sealpost-Quarantine field,
p=none is delivered; pct sampling makes the disposition one step milder;
a DNS failure is dmarc=temperror and accepted; mail without exactly one
author is refused (RFC 7489 6.6.1); trusted relays are not checked;
dmarc_enforce = no only records."""

import time

import pytest

import sealpost_harness as H
from fake_dns import FakeDns
import dkim_support as D

RSA_PEM, RSA_REC = D.rsa_key()

SPF_LOOPBACK = {"TXT": "v=spf1 ip4:127.0.0.0/8 -all"}


def domain(name, spf=True):
	recs = [{"MX": [10, "mx.sender.example"]}, {"A": "127.0.0.1"}]
	return recs + ([SPF_LOOPBACK] if spf else [])


ZONE = {
	# The envelope sender's domain: SPF passes, but is not aligned with
	# any of the From domains below (a different Organizational Domain).
	"sender.example": domain("sender.example"),
	"mx.sender.example": [{"A": "127.0.0.1"}],
	"rejecting.example": domain("rejecting.example"),
	"_dmarc.rejecting.example": [{"TXT": "v=DMARC1; p=reject; sp=quarantine"}],
	"sel._domainkey.rejecting.example": [{"TXT": RSA_REC}],
	"quarantining.example": domain("quarantining.example", spf=False),
	"_dmarc.quarantining.example": [{"TXT": "v=DMARC1; p=quarantine"}],
	"monitoring.example": domain("monitoring.example", spf=False),
	"_dmarc.monitoring.example": [{"TXT": "v=DMARC1; p=none"}],
	"sampled.example": domain("sampled.example", spf=False),
	"_dmarc.sampled.example": [{"TXT": "v=DMARC1; p=reject; pct=0"}],
	"broken.example": domain("broken.example", spf=False),
	"_dmarc.broken.example": ["SERVFAIL"],
	"slow.example": domain("slow.example", spf=False),
	"_dmarc.slow.example": ["TIMEOUT"],
}

ENVELOPE = "bounces@sender.example"


@pytest.fixture(scope="module")
def fake():
	f = FakeDns(ZONE).start()
	yield f
	f.stop()


def overrides(fake, **kw):
	o = {"dns_servers": "127.0.0.1:%d" % fake.port, "dns_timeout": "1",
	    "dns_retries": "0"}
	o.update(kw)
	return o


@pytest.fixture(scope="module")
def dm(module_factory, fake):
	return module_factory(overrides(fake), name="dm")


def from_msg(mk, author, extra=""):
	return D.message(mk, sender=author, extra=extra)


def dmarc_clause(msg):
	c = D.ar_clauses(msg, "dmarc")
	assert len(c) == 1, D.auth_results(msg)
	return c[0]


def test_dmarc_reject_is_550_and_nothing_stored(dm):
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "ceo@rejecting.example"),
	    sender=ENVELOPE)
	assert r.is_(550, "5.7.1"), r
	assert "DMARC policy of rejecting.example" in r.text, r
	assert got is None and dm.find("alice@example.test", mk) == []
	assert "event=dmarc from=rejecting.example result=fail policy=reject" in dm.log()


def test_dmarc_reject_with_bdat_is_550(dm):
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "ceo@rejecting.example"),
	    sender=ENVELOPE, bdat=True)
	assert r.is_(550, "5.7.1"), r


def test_dmarc_pass_through_aligned_dkim(dm):
	"""The same From, now signed by its domain: DKIM aligns, DMARC passes."""
	mk = H.marker()
	msg = D.sign(from_msg(mk, "ceo@rejecting.example"), "rejecting.example",
	    "sel", RSA_PEM)
	r, got = D.deliver(dm, msg, sender=ENVELOPE)
	assert r.is_(250), r
	assert dmarc_clause(got) == ("dmarc=pass (p=reject dis=none) "
	    "header.from=rejecting.example")
	assert D.ar_clauses(got, "dkim")[0].startswith(
	    "dkim=pass header.d=rejecting.example")


def test_dmarc_pass_through_aligned_spf(dm):
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "ceo@rejecting.example"),
	    sender="bounces@rejecting.example")
	assert r.is_(250), r
	assert dmarc_clause(got).startswith("dmarc=pass")
	assert b"X-Sealpost-Quarantine" not in got


def test_dmarc_quarantine_is_delivered_marked(dm):
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "ceo@quarantining.example"),
	    sender=ENVELOPE)
	assert r.is_(250), r
	assert dmarc_clause(got) == ("dmarc=fail (p=quarantine dis=quarantine) "
	    "header.from=quarantining.example")
	fields = H.header_fields(got)
	assert fields["x-sealpost-quarantine"] == [
	    "dmarc p=quarantine from=quarantining.example"]
	# The marker is among the fields in front; the Subject is untouched.
	trace, rest = H.split_trace(got)
	assert rest.startswith(b"X-Sealpost-Quarantine: "), got[:600]
	assert fields["subject"] == ["test %s" % mk]


def test_dmarc_subdomain_gets_sp(dm):
	"""No record at sub.rejecting.example: the organizational domain's
	record applies with its sp= (RFC 7489 6.6.3, 6.3)."""
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "x@sub.rejecting.example"),
	    sender=ENVELOPE)
	assert r.is_(250), r
	assert dmarc_clause(got).startswith("dmarc=fail (p=quarantine dis=quarantine)")
	assert "x-sealpost-quarantine" in H.header_fields(got)


def test_dmarc_none_is_delivered(dm):
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "ceo@monitoring.example"),
	    sender=ENVELOPE)
	assert r.is_(250), r
	assert dmarc_clause(got) == ("dmarc=fail (p=none dis=none) "
	    "header.from=monitoring.example")
	assert "x-sealpost-quarantine" not in H.header_fields(got)


def test_dmarc_pct_zero_softens_reject_to_quarantine(dm):
	"""RFC 7489 6.6.4: a message not sampled gets the next milder policy."""
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "ceo@sampled.example"),
	    sender=ENVELOPE)
	assert r.is_(250), r
	assert dmarc_clause(got).startswith("dmarc=fail (p=reject dis=quarantine)")
	assert "x-sealpost-quarantine" in H.header_fields(got)


def test_dmarc_no_record_is_none(dm):
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "someone@sender.example"),
	    sender=ENVELOPE)
	assert r.is_(250), r
	assert dmarc_clause(got) == "dmarc=none header.from=sender.example"


def test_dmarc_dns_failure_is_temperror_and_accepted(dm):
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "ceo@broken.example"),
	    sender=ENVELOPE)
	assert r.is_(250), r
	assert dmarc_clause(got) == "dmarc=temperror header.from=broken.example"


@pytest.mark.parametrize("head,why", [
	("To: <alice@example.test>\r\nSubject: no author\r\n", "it has 0"),
	("From: <a@sender.example>\r\nFrom: <ceo@rejecting.example>\r\n"
	    "Subject: two\r\n", "it has 2"),
	("From: a@sender.example, ceo@rejecting.example\r\nSubject: two in one\r\n",
	    "more than one author"),
	("From: undisclosed:;\r\nSubject: empty group\r\n", "no author"),
], ids=["no-from", "two-froms", "two-mailboxes", "empty-group"])
def test_dmarc_exactly_one_author_rule(dm, head, why):
	"""RFC 7489 6.6.1: without exactly one author domain DMARC cannot
	protect the message: 550 5.7.1 from outside."""
	mk = H.marker()
	msg = ("%sMessage-ID: <%s@sender.example>\r\n\r\nbody\r\n" % (head, mk)).encode()
	r, got = D.deliver(dm, msg, sender=ENVELOPE)
	assert r.is_(550, "5.7.1"), r
	assert why in r.text, r
	assert dm.find("alice@example.test", mk) == []


def test_dmarc_trusted_relay_not_checked(dm):
	mk = H.marker()
	r, got = D.deliver(dm, from_msg(mk, "ceo@rejecting.example"),
	    sender=ENVELOPE, source="127.0.0.2")
	assert r.is_(250), r
	assert D.auth_results(got) == []


def test_dmarc_client_leaves_while_policy_lookup_pending(dm, fake):
	"""The _dmarc query goes unanswered; the client drops the connection
	in the middle of the body: the session is freed with the look-up in
	flight (ASan-checked), nothing stored, the server goes on."""
	mk = H.marker()
	msg = H.dot_stuff(from_msg(mk, "ceo@slow.example", extra="X-Pad: %s\r\n"
	    % ("p" * 200)))
	c = dm.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<%s>" % ENVELOPE).code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(msg[:len(msg) - 10])
	deadline = time.monotonic() + 5 * H.SLOW
	while not any(n == "_dmarc.slow.example" for n, _ in fake.queries):
		assert time.monotonic() < deadline, fake.queries[-5:]
		time.sleep(0.05)
	c.close()
	time.sleep(1.5 * H.SLOW)
	assert dm.running()
	assert dm.find("alice@example.test", mk) == []


def test_dmarc_enforce_off_only_records(make_instance, fake):
	inst = make_instance(overrides(fake, dmarc_enforce="no"))
	mk = H.marker()
	r, got = D.deliver(inst, from_msg(mk, "ceo@rejecting.example"),
	    sender=ENVELOPE)
	assert r.is_(250), r
	assert dmarc_clause(got) == ("dmarc=fail (p=reject dis=reject) "
	    "header.from=rejecting.example")
	assert "x-sealpost-quarantine" not in H.header_fields(got)
	mk = H.marker()
	msg = ("To: <alice@example.test>\r\nMessage-ID: <%s@x>\r\n\r\nno author\r\n"
	    % mk).encode()
	r, got = D.deliver(inst, msg, sender=ENVELOPE)
	assert r.is_(250), r
