"""DKIM end to end (issue 4): instance A signs what alice submits with
the rsa and ed25519 keys `sealpost dkim keygen` made for example.test,
its queue runner relays it to instance B over loopback, and B (for which
A is an ordinary outside MX client) verifies both signatures against the
records A printed and lets the From domain's p=reject DMARC policy pass.
So the queue runner transmits the signed fields unchanged, and dkimpy
agrees about B's stored copy."""

import pytest

import sealpost_harness as H
from fake_dns import FakeDns
from relay_support import submit, wait_for

D = pytest.importorskip("dkim_support")

REMOTE = "carol@example.net"


def test_relay_dkim_signed_by_a_verified_by_b(make_instance):
	a = make_instance({"queue_scan_interval": "1",
	    "queue_retry_schedule": "1s"}, start=False, name="a")
	recs = {}
	for sel, alg in (("r1", "rsa2048"), ("e1", "ed25519")):
		out = a.cli("dkim", "keygen", H.DOMAIN, "--selector", sel,
		    "--algorithm", alg).stdout.decode()
		recs.update(D.zone_records(out))
	zone = {H.DOMAIN: [{"MX": [10, H.HOSTNAME]}, {"A": "127.0.0.1"},
	    {"TXT": "v=spf1 ip4:127.0.0.0/8 -all"}],
	    H.HOSTNAME: [{"A": "127.0.0.1"}],
	    "_dmarc." + H.DOMAIN: [{"TXT": "v=DMARC1; p=reject; adkim=s"}]}
	for name, rec in recs.items():
		zone[name] = [{"TXT": rec}]
	fake = FakeDns(zone).start()
	try:
		b = make_instance({"domains": "example.net",
		    "dns_servers": "127.0.0.1:%d" % fake.port, "dns_timeout": "1",
		    "dns_retries": "0"}, start=False, users=False, name="b")
		b.cli("user", "add", REMOTE, "--password-stdin", input=b"carol-Pw-3\n")
		b.start()
		a.conf.write_text(H.config_with_overrides(a.conf.read_text(),
		    {"transport": "example.net=[127.0.0.1]:%d" % b.smtp}))
		a.start()
		mk = H.marker()
		submit(a, [REMOTE], H.simple_message(mk, sender="alice@example.test",
		    to=REMOTE))
		msgs = wait_for(lambda: b.find(REMOTE, mk), 15)
		assert len(msgs) == 1, a.log_tail()
		got = msgs[0]
		dk = D.ar_clauses(got, "dkim")
		assert sorted(c.split()[0] for c in dk) == ["dkim=pass", "dkim=pass"], dk
		assert all("header.d=example.test" in c for c in dk), dk
		assert D.ar_clauses(got, "dmarc") == [
		    "dmarc=pass (p=reject dis=none) header.from=example.test"]

		def dnsfunc(name, timeout=5):
			return recs.get(name.decode().rstrip(".").lower(), "").encode()

		d = D.dkim.DKIM(got)
		assert d.verify(idx=0, dnsfunc=dnsfunc) and \
		    d.verify(idx=1, dnsfunc=dnsfunc), got[:3000]
	finally:
		fake.stop()
