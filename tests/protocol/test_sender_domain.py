"""MAIL FROM sender checks (issue 4, docs/authenticity.md): a sender
domain must have an MX, or else an A or AAAA record; a null MX (RFC 7505)
or a domain that does not exist is 550 5.1.8; DNS trouble is 450 4.4.3,
never 250. Then SPF (RFC 7208): fail is 550 5.7.23, temperror 451 4.7.24,
the rest is accepted and recorded in Authentication-Results. The DNS
answers come from tests/protocol/fake_dns.py."""

import time

import pytest

import sealpost_harness as H
from fake_dns import FakeDns, silent_udp_port

ZONE = {
	"example.org": [{"MX": [10, "mx.example.org"]}, {"A": "127.0.0.1"}],
	"mx.example.org": [{"A": "127.0.0.1"}],
	"nullmx.example.org": [{"MX": [0, "."]}, {"A": "127.0.0.1"}],
	"aonly.example.org": [{"A": "192.0.2.1"}],
	"aaaaonly.example.org": [{"AAAA": "2001:db8::1"}],
	"empty.example.org": [],
	"broken.example.org": ["SERVFAIL"],
	"slow.example.org": ["TIMEOUT"],
	"cname.example.org": [{"CNAME": "aonly.example.org"}],
	# SPF
	"forged.example.org": [{"MX": [10, "mx.example.org"]},
	    {"TXT": "v=spf1 ip4:192.0.2.0/24 -all"}],
	"spfpass.example.org": [{"MX": [10, "mx.example.org"]},
	    {"TXT": "v=spf1 ip4:127.0.0.0/8 -all"}],
	"spfsoft.example.org": [{"A": "192.0.2.9"}, {"TXT": "v=spf1 ~all"}],
	"spfperm.example.org": [{"A": "192.0.2.9"}, {"TXT": "v=spf1 frob:x -all"}],
	"spftemp.example.org": [{"A": "192.0.2.9"},
	    {"TXT": "v=spf1 include:slow.example.org -all"}],
	"helo.example.org": [{"A": "127.0.0.1"}, {"TXT": "v=spf1 a -all"}],
	"badhelo.example.org": [{"A": "127.0.0.1"}, {"TXT": "v=spf1 -all"}],
}


@pytest.fixture(scope="module")
def fake():
	f = FakeDns(ZONE).start()
	yield f
	f.stop()


@pytest.fixture(scope="module")
def sd(module_factory, fake):
	return module_factory({"dns_servers": "127.0.0.1:%d" % fake.port,
	    "dns_timeout": "1", "dns_retries": "0"}, name="sd")


def mail_from(inst, sender, **kw):
	c = inst.client(**kw)
	c.ehlo()
	r = c.cmd("MAIL FROM:<%s>" % sender)
	c.quit()
	return r


@pytest.mark.parametrize("sender", [
	"a@example.org", "a@aonly.example.org", "a@aaaaonly.example.org",
	"a@cname.example.org", "a@EXAMPLE.ORG"])
def test_sender_domain_existing_accepted(sd, sender):
	r = mail_from(sd, sender)
	assert r.is_(250, "2.1.0"), r


@pytest.mark.parametrize("sender", [
	"hsgds8q@ajhdjdsasd.wqer", "a@empty.example.org", "a@no.such.example.org"])
def test_sender_domain_not_found_550(sd, sender):
	r = mail_from(sd, sender)
	assert r.is_(550, "5.1.8"), r
	assert r.text == "5.1.8 <%s>: Sender address rejected: Domain not found" % sender


def test_sender_domain_null_mx_550(sd):
	r = mail_from(sd, "a@nullmx.example.org")
	assert r.is_(550, "5.1.8"), r
	assert "domain does not accept mail (null MX)" in r.text, r


@pytest.mark.parametrize("sender", ["a@broken.example.org", "a@slow.example.org"])
def test_sender_domain_dns_failure_450(sd, sender):
	t0 = time.monotonic()
	r = mail_from(sd, sender)
	assert r.is_(450, "4.4.3"), r
	assert "Temporary DNS failure" in r.text, r
	assert time.monotonic() - t0 < 10 * H.SLOW


def test_sender_domain_verdict_logged(sd):
	mail_from(sd, "a@nullmx.example.org")
	assert "event=sender-domain from=<a@nullmx.example.org>" in sd.log()
	assert "verdict=null-mx" in sd.log()


def test_sender_domain_trusted_and_literal_skip_check(sd):
	# 127.0.0.2 is in the harness's trusted_networks.
	r = mail_from(sd, "x@ajhdjdsasd.wqer", source="127.0.0.2")
	assert r.is_(250), r
	r = mail_from(sd, "x@[192.0.2.1]")
	assert r.is_(250), r


def test_sender_domain_null_sender_not_checked(sd):
	r = mail_from(sd, "")
	assert r.is_(250), r


def test_sender_domain_pipelined_commands_wait_for_mail_reply(sd):
	"""RFC 2920: the replies come in order; RCPT after a refused MAIL is
	503, and nothing behind MAIL is read before MAIL is answered."""
	c = sd.client()
	c.ehlo()
	c.send("MAIL FROM:<a@ajhdjdsasd.wqer>\r\nRCPT TO:<alice@example.test>\r\n"
	    "NOOP\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<alice@example.test>\r\n"
	    "DATA\r\n")
	codes = [c.reply().code for _ in range(6)]
	assert codes == [550, 503, 250, 250, 250, 354], codes
	mk = H.marker()
	c.send(H.dot_stuff(H.simple_message(mk, sender="b@example.org")) + b".\r\n")
	assert c.reply().code == 250
	c.quit()
	assert len(sd.find("alice@example.test", mk)) == 1


def test_sender_domain_client_gone_during_lookup(sd):
	"""The session ends while its look-up is pending: the answer must find
	nothing (the sanitizer check after each test catches a use after free)."""
	for _ in range(3):
		c = sd.client()
		c.ehlo()
		c.send("MAIL FROM:<a@slow.example.org>\r\n")
		c.close()
	time.sleep(1.5)
	r = mail_from(sd, "a@example.org")
	assert r.is_(250), r


def test_sender_domain_dns_server_down_450(make_instance):
	sock, port = silent_udp_port()
	try:
		inst = make_instance({"dns_servers": "127.0.0.1:%d" % port,
		    "dns_timeout": "1", "dns_retries": "0"})
		r = mail_from(inst, "someone@example.org")
		assert r.is_(450, "4.4.3"), r
		assert "4.4.3 <someone@example.org>: Sender address rejected: " \
		    "Temporary DNS failure, try again later" == r.text
	finally:
		sock.close()


def test_sender_domain_authenticated_not_checked(make_instance):
	"""A logged-in submitter's sender is checked against the account, not
	the DNS: even with DNS down, submission works."""
	sock, port = silent_udp_port()
	try:
		inst = make_instance({"dns_servers": "127.0.0.1:%d" % port,
		    "dns_timeout": "1", "dns_retries": "0"})
		c = inst.client("submission")
		c.ehlo()
		c.starttls()
		c.ehlo()
		r = c.auth_plain("alice@example.test", H.USERS["alice@example.test"])
		assert r.code == 235, r
		r = c.cmd("MAIL FROM:<alice@example.test>")
		assert r.is_(250), r
		c.quit()
	finally:
		sock.close()


def deliver(inst, sender, helo="client.example.org"):
	"""Sends one message from sender to alice; returns (MAIL reply, stored
	message or None)."""
	mk = H.marker()
	c = inst.client()
	c.ehlo(helo)
	r = c.cmd("MAIL FROM:<%s>" % sender)
	if r.code != 250:
		c.quit()
		return r, None
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(H.dot_stuff(H.simple_message(mk, sender=sender or "x@example.org")) + b".\r\n")
	assert c.reply().code == 250
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1
	return r, got[0]


def auth_results(msg):
	return H.header_fields(msg).get("authentication-results", [])


def spf_results(msg):
	"""The Authentication-Results values up to the SPF clause (the dkim=
	and dmarc= clauses after it are test_dkim.py's and test_dmarc.py's)."""
	return [v.split("; dkim=", 1)[0] for v in auth_results(msg)]


def test_spf_forged_sender_fail_550(sd):
	"""The domain publishes -all for everyone but 192.0.2.0/24."""
	r, _ = deliver(sd, "ceo@forged.example.org")
	assert r.is_(550, "5.7.23"), r
	assert "SPF fail" in r.text, r
	assert "event=spf identity=mailfrom from=<ceo@forged.example.org>" in sd.log()
	assert "result=fail" in sd.log()


def test_spf_pass_recorded_in_header(sd):
	r, msg = deliver(sd, "someone@spfpass.example.org")
	assert r.is_(250), r
	ar = spf_results(msg)
	assert ar == ["%s; spf=pass smtp.mailfrom=someone@spfpass.example.org"
	    % H.HOSTNAME], ar
	# RFC 8601: one field with every method, DKIM and DMARC after SPF.
	assert auth_results(msg)[0].endswith("; dkim=none; dmarc=none "
	    "header.from=spfpass.example.org"), auth_results(msg)
	# One header, among the trace fields the server added.
	trace, _ = H.split_trace(msg)
	assert sum(1 for t in trace if t.lower().startswith(b"authentication-results:")) == 1


@pytest.mark.parametrize("sender,result", [
	("a@spfsoft.example.org", "softfail"),
	("a@spfperm.example.org", "permerror"),
	("a@aonly.example.org", "none"),
])
def test_spf_accepted_results_recorded(sd, sender, result):
	r, msg = deliver(sd, sender)
	assert r.is_(250), r
	assert spf_results(msg) == ["%s; spf=%s smtp.mailfrom=%s" % (
	    H.HOSTNAME, result, sender)]


def test_spf_temperror_451(sd):
	r, _ = deliver(sd, "a@spftemp.example.org")
	assert r.is_(451, "4.7.24"), r


def test_spf_null_sender_checks_helo(sd):
	r, msg = deliver(sd, "", helo="helo.example.org")
	assert r.is_(250), r
	assert spf_results(msg) == ["%s; spf=pass smtp.helo=helo.example.org"
	    % H.HOSTNAME]
	r, _ = deliver(sd, "", helo="badhelo.example.org")
	assert r.is_(550, "5.7.23"), r


def test_spf_not_checked_for_trusted_clients(sd):
	mk = H.marker()
	c = sd.client(source="127.0.0.2")
	c.ehlo()
	r = c.mail_message("ceo@forged.example.org", ["alice@example.test"],
	    H.simple_message(mk))
	assert r.code == 250, r
	c.quit()
	got = sd.find("alice@example.test", mk)
	assert len(got) == 1 and auth_results(got[0]) == []


def test_forged_authentication_results_removed(sd):
	"""RFC 8601 5: a sender cannot forge our verdict; every incoming
	Authentication-Results field of an outsider's message is removed, in
	the header section only, folded lines included."""
	mk = H.marker()
	forged = ("Authentication-Results: %s; spf=pass\r\n\tsmtp.mailfrom=ceo@forged.example.org\r\n"
	    "authentication-results : %s; dkim=pass\r\n" % (H.HOSTNAME, H.HOSTNAME))
	body = "Hello %s\r\nAuthentication-Results: in the body stays\r\n" % mk
	c = sd.client()
	c.ehlo()
	r = c.mail_message("a@spfsoft.example.org", ["alice@example.test"],
	    H.simple_message(mk, sender="a@spfsoft.example.org",
	    extra_headers=forged, body=body))
	assert r.code == 250, r
	c.quit()
	got = sd.find("alice@example.test", mk)
	assert len(got) == 1
	assert spf_results(got[0]) == ["%s; spf=softfail smtp.mailfrom="
	    "a@spfsoft.example.org" % H.HOSTNAME], got[0]
	assert b"smtp.mailfrom=ceo@forged" not in got[0]
	assert b"\r\n\r\nHello %s\r\nAuthentication-Results: in the body stays\r\n" \
	    % mk.encode() in got[0]
	assert "event=authres-removed fields=2" in sd.log()


def test_trusted_relay_authentication_results_kept(sd):
	mk = H.marker()
	c = sd.client(source="127.0.0.2")
	c.ehlo()
	r = c.mail_message("a@example.org", ["alice@example.test"],
	    H.simple_message(mk, extra_headers="Authentication-Results: "
	    "filter.example.test; dkim=pass\r\n"))
	assert r.code == 250, r
	c.quit()
	got = sd.find("alice@example.test", mk)
	assert auth_results(got[0]) == ["filter.example.test; dkim=pass"]


def test_sender_policy_knobs(make_instance, fake):
	"""spf_reject_fail = no records a fail instead of refusing it;
	spf_reject_permerror = yes refuses a broken record with 5.7.24;
	sender_domain_check = no lets an unknown domain through (SPF none)."""
	inst = make_instance({"dns_servers": "127.0.0.1:%d" % fake.port,
	    "dns_timeout": "1", "dns_retries": "0", "spf_reject_fail": "no",
	    "spf_reject_permerror": "yes", "sender_domain_check": "no"})
	r, msg = deliver(inst, "ceo@forged.example.org")
	assert r.is_(250), r
	assert spf_results(msg) == ["%s; spf=fail smtp.mailfrom="
	    "ceo@forged.example.org" % H.HOSTNAME]
	r, _ = deliver(inst, "a@spfperm.example.org")
	assert r.is_(550, "5.7.24"), r
	r, msg = deliver(inst, "hsgds8q@ajhdjdsasd.wqer")
	assert r.is_(250), r
	assert spf_results(msg) == ["%s; spf=none smtp.mailfrom="
	    "hsgds8q@ajhdjdsasd.wqer" % H.HOSTNAME]


def test_dns_answers_cached_per_worker(make_instance):
	"""dns_cache_size (docs/config.md): one worker asks the MX, SPF and
	_dmarc questions of a sender domain once and answers the next messages
	from its cache (fake_dns.py gives every record TTL 60, and here its
	denials an SOA of TTL 60, so the _dmarc NXDOMAIN is kept too); the
	results in the stored message are the same. With dns_cache_size = 0
	every message asks again."""
	for size, want_asks in (("1000", 1), ("0", 3)):
		f = FakeDns(ZONE, negative_ttl=60).start()
		try:
			inst = make_instance({"dns_servers": "127.0.0.1:%d" % f.port,
			    "dns_timeout": "1", "dns_retries": "0", "workers": "1",
			    "dns_cache_size": size})
			results = []
			for _ in range(3):
				r, msg = deliver(inst, "a@spfpass.example.org")
				assert r.is_(250), r
				results.append(spf_results(msg))
			assert results[0] == ["%s; spf=pass smtp.mailfrom="
			    "a@spfpass.example.org" % H.HOSTNAME]
			assert results == [results[0]] * 3
			asked = [q for q in f.queries
			    if q[0].lower().endswith("spfpass.example.org")]
			# MX (15), TXT (16) of the domain, TXT of _dmarc.
			kinds = set(asked)
			assert ("spfpass.example.org", 15) in kinds, asked
			assert ("spfpass.example.org", 16) in kinds, asked
			assert ("_dmarc.spfpass.example.org", 16) in kinds, asked
			for k in kinds:
				assert asked.count(k) == want_asks, (size, k, asked)
		finally:
			f.stop()
