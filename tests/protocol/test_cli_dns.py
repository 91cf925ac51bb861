"""`sealpost dns`: the records it tells the admin to publish, checked by
publishing them (tests/protocol/fake_dns.py) and asking `sealpost spf`
whether the server itself passes and a stranger fails."""

import re
import pytest

import sealpost_harness as H
from fake_dns import FakeDns


def parse(text):
	out = []
	for line in text.splitlines():
		if line and not line.startswith(";"):
			out.append(re.split(r"\t+", line))
	return out


@pytest.fixture
def dns_inst(make_instance):
	return make_instance(start=False)


def test_cli_dns_prints_records(dns_inst):
	r = dns_inst.cli("dns")
	text = r.stdout.decode()
	rows = parse(text)
	assert ["example.test.", "IN MX", "10 %s." % H.HOSTNAME] in rows, text
	assert ["example.test.", "IN TXT", '"v=spf1 mx -all"'] in rows, text
	assert ["_dmarc.example.test.", "IN TXT",
	    '"v=DMARC1; p=none; rua=mailto:postmaster@example.test"'] in rows, text
	assert ["_submission._tcp.example.test.", "IN SRV",
	    "0 1 %d %s." % (dns_inst.submission, H.HOSTNAME)] in rows, text
	assert ["_pop3s._tcp.example.test.", "IN SRV",
	    "0 1 %d %s." % (dns_inst.ports["pop3s"], H.HOSTNAME)] in rows, text
	# The same for the domain named, and an error for a foreign one.
	assert dns_inst.cli("dns", "EXAMPLE.test").stdout.decode() == text
	r = dns_inst.cli("dns", "example.org", check=False)
	assert r.returncode == 1 and b"not one of the configured" in r.stderr


def test_cli_dns_spf_record_works(dns_inst):
	"""Published as printed, the SPF record lets the MX host send and
	refuses anyone else."""
	text = dns_inst.cli("dns").stdout.decode()
	zone = {}
	for name, rtype, rdata in parse(text):
		name = name.rstrip(".")
		if rtype == "IN MX":
			pref, host = rdata.split()
			zone.setdefault(name, []).append({"MX": [int(pref), host.rstrip(".")]})
		elif rtype == "IN TXT":
			zone.setdefault(name, []).append({"TXT": rdata.strip('"')})
	zone[H.HOSTNAME] = [{"A": "127.0.0.1"}]
	fake = FakeDns(zone).start()
	try:
		dns = "127.0.0.1:%d" % fake.port
		ok = dns_inst.cli("spf", "--dns", dns, "127.0.0.1",
		    "alice@example.test").stdout.decode()
		assert ok.splitlines()[0] == "pass", ok
		bad = dns_inst.cli("spf", "--dns", dns, "192.0.2.66",
		    "alice@example.test").stdout.decode()
		assert bad.splitlines()[0] == "fail", bad
		assert "mechanism: -all" in bad
	finally:
		fake.stop()
