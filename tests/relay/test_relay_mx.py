"""MX delivery (RFC 5321 5.1, docs/outbound.md "Routing"): the queue
runner finds the next hop through the DNS servers in dns_servers. A
private dnsmasq publishes MX and A records pointing into 127.0.0.0/8,
and relay_mx_port sends the connection to a second instance's port.
Null MX, NXDOMAIN and a DNS that fails come from tests/protocol/fake_dns.py
or a closed port."""

import re
import socket

import pytest

import sealpost_harness as H
from fake_dns import FakeDns
from relay_support import (MxDns, bounces, queue_empty, submit, wait_for)

SENDER = "alice@example.test"

# pref.example: the preferred MX (10) is an address nobody listens on,
# the next one (20) is instance B. implicit.example has no MX, only an A
# record. Every other name is NXDOMAIN (dnsmasq --local=/#/).
MX_RECORDS = [
	"--host-record=mx-down.pref.example,127.0.0.3",
	"--host-record=mx-up.pref.example,127.0.0.1",
	"--mx-host=pref.example,mx-down.pref.example,10",
	"--mx-host=pref.example,mx-up.pref.example,20",
	"--host-record=implicit.example,127.0.0.1",
	# Both families: ::1 (where B does not listen) must come first.
	"--host-record=mx.dual.example,127.0.0.1,::1",
	"--mx-host=dual.example,mx.dual.example,10",
	# silent.example: the preferred MX drops SYNs (a full accept queue),
	# the next one is B.
	"--host-record=mx-silent.silent.example,127.0.0.5",
	"--host-record=mx-up.silent.example,127.0.0.1",
	"--mx-host=silent.example,mx-silent.silent.example,10",
	"--mx-host=silent.example,mx-up.silent.example,20",
]


@pytest.fixture(scope="module")
def mxdns(tmp_path_factory):
	d = MxDns(tmp_path_factory.mktemp("mxdns"), MX_RECORDS).start()
	yield d
	d.stop()


@pytest.fixture(scope="module")
def pair(module_factory, mxdns):
	"""B receives for pref.example and implicit.example; A finds B only
	through DNS."""
	dns = {"dns_servers": "127.0.0.1:%d" % mxdns.port}
	b = module_factory(dict(dns, domains="pref.example, implicit.example, "
	    "dual.example, silent.example"), start=False, users=False, name="b")
	for addr in ("carol@pref.example", "dan@implicit.example",
	    "kim@dual.example", "sam@silent.example"):
		b.cli("user", "add", addr, "--password-stdin", input=b"Pw-x-123\n")
	b.start()
	a = module_factory(dict(dns, relay_mx_port=str(b.smtp),
	    queue_scan_interval="1", queue_retry_schedule="1s",
	    timeout_relay_connect="2"), name="a")
	return a, b


def test_relay_mx_skips_unreachable_preferred_host(pair, mxdns):
	a, b = pair
	rcpt = "carol@pref.example"
	mk = H.marker()
	submit(a, [rcpt], H.simple_message(mk, sender=SENDER, to=rcpt))
	msgs = wait_for(lambda: b.find(rcpt, mk), 20)
	assert len(msgs) == 1, a.log_tail()
	assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
	log = a.log()
	# The preferred host was tried first and refused the connection...
	assert re.search(r"event=next-hop peer=mx-down\.pref\.example"
	    r"\[127\.0\.0\.3\]:%d tls=no reply=\"451 4\.4\.1 connect to "
	    r"[^\"]*\" next=mx-up\.pref\.example\[127\.0\.0\.1\]:%d" % (
	    b.smtp, b.smtp), log), log[-3000:]
	# ...and the delivery line names the MX host and its address.
	m = re.search(r"event=delivered to=<%s> peer=mx-up\.pref\.example"
	    r"\[127\.0\.0\.1\]:%d tls=(\S+)" % (re.escape(rcpt), b.smtp), log)
	assert m, log[-3000:]
	assert m.group(1).startswith("TLSv1."), m.group(0)
	# The names were resolved by the configured server, nobody else.
	qlog = mxdns.logpath.read_text(errors="replace")
	assert re.search(r"query\[MX\] pref\.example from 127\.0\.0\.1", qlog)
	assert re.search(r"query\[A\] mx-up\.pref\.example from 127\.0\.0\.1",
	    qlog)


def test_relay_mx_implicit_from_a_record(pair):
	a, b = pair
	rcpt = "dan@implicit.example"
	mk = H.marker()
	submit(a, [rcpt], H.simple_message(mk, sender=SENDER, to=rcpt))
	msgs = wait_for(lambda: b.find(rcpt, mk), 20)
	assert len(msgs) == 1, a.log_tail()
	assert re.search(r"event=delivered to=<%s> peer=implicit\.example"
	    r"\[127\.0\.0\.1\]:%d " % (re.escape(rcpt), b.smtp), a.log())


def test_relay_mx_ipv6_address_first_then_ipv4(pair):
	"""One MX host with AAAA and A: the IPv6 address is tried first (B
	listens only on 127.0.0.1, so it fails) and the IPv4 one next."""
	a, b = pair
	rcpt = "kim@dual.example"
	mk = H.marker()
	submit(a, [rcpt], H.simple_message(mk, sender=SENDER, to=rcpt))
	msgs = wait_for(lambda: b.find(rcpt, mk), 20)
	assert len(msgs) == 1, a.log_tail()
	log = a.log()
	assert re.search(r"event=next-hop peer=mx\.dual\.example\[::1\]:%d "
	    r"tls=no reply=\"451 4\.4\.1 [^\"]*\" next=mx\.dual\.example"
	    r"\[127\.0\.0\.1\]:%d" % (b.smtp, b.smtp), log), log[-3000:]
	assert re.search(r"event=delivered to=<%s> peer=mx\.dual\.example"
	    r"\[127\.0\.0\.1\]:%d " % (re.escape(rcpt), b.smtp), log)


def test_relay_mx_nxdomain_bounces_at_once(pair):
	a, b = pair
	rcpt = "eve@nosuch.example"
	mk = H.marker()
	submit(a, [rcpt], H.simple_message(mk, sender=SENDER, to=rcpt))
	got = wait_for(lambda: bounces(a, SENDER, mk), 15)
	assert len(got) == 1, a.log_tail()
	assert b"Status: 5.1.2" in got[0]
	assert b"Action: failed" in got[0]
	assert b"does not exist (DNS NXDOMAIN)" in got[0]
	assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
	assert re.search(r"event=bounced to=<%s> peer=dns tls=no reply=\"550 "
	    r"5\.1\.2 " % re.escape(rcpt), a.log())


# --- answers dnsmasq cannot give: a null MX, SERVFAIL ------------------

ZONE = {
	"nullmx.example": [{"MX": [0, "."]}],
	"broken.example": ["SERVFAIL"],
	"example.test": [{"MX": [10, "mx.test.example"]}],
	# RFC 7505 forbids this mix; the real MX is used.
	"mixed.example": [{"MX": [0, "."]}, {"MX": [10, "mx.mixed.example"]}],
	"mx.mixed.example": [{"A": "127.0.0.1"}],
	# The only MX host does not exist / cannot be looked up now.
	"noaddr.example": [{"MX": [10, "gone.noaddr.example"]}],
	"halfbroken.example": [{"MX": [10, "broken.example"]}],
	# Neither MX nor address.
	"empty.example": [],
}


@pytest.fixture(scope="module")
def fake():
	f = FakeDns(ZONE).start()
	yield f
	f.stop()


def test_relay_null_mx_bounces_556_quickly(make_instance, fake):
	a = make_instance({"dns_servers": "127.0.0.1:%d" % fake.port,
	    "dns_timeout": "1", "dns_retries": "0", "queue_scan_interval": "1",
	    "queue_retry_schedule": "1s"})
	rcpt = "frank@nullmx.example"
	mk = H.marker()
	submit(a, [rcpt], H.simple_message(mk, sender=SENDER, to=rcpt))
	got = wait_for(lambda: bounces(a, SENDER, mk), 10)
	assert len(got) == 1, a.log_tail()
	assert b"Status: 5.1.10" in got[0]
	assert b"556 5.1.10 domain nullmx.example accepts no mail (null MX" \
	    in got[0]
	assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
	# One attempt: a null MX is never retried.
	assert len(re.findall(r"to=<%s> peer=dns" % re.escape(rcpt),
	    a.log())) == 1


@pytest.mark.parametrize("down", ["servfail", "closed-port"])
def test_relay_dns_failure_defers_never_bounces(make_instance, fake, down):
	if down == "servfail":
		server, rcpt = "127.0.0.1:%d" % fake.port, "gina@broken.example"
	else:
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.bind(("127.0.0.1", 0))
		port = s.getsockname()[1]
		s.close()	# nothing answers there now
		server, rcpt = "127.0.0.1:%d" % port, "gina@pref.example"
	a = make_instance({"dns_servers": server, "dns_timeout": "1",
	    "dns_retries": "0", "queue_scan_interval": "1",
	    "queue_retry_schedule": "1s"})
	mk = H.marker()
	submit(a, [rcpt], H.simple_message(mk, sender=SENDER, to=rcpt))
	# Several attempts, each deferred with the DNS failure...
	assert wait_for(lambda: len(re.findall(r"event=deferred to=<%s> "
	    r"peer=dns tls=no reply=\"451 4\.4\.3 MX look-up for \S+ failed"
	    % re.escape(rcpt), a.log())) >= 2, 20), a.log_tail()
	# ...and never a bounce: the message stays queued.
	assert bounces(a, SENDER, mk) == []
	assert "event=bounced" not in a.log()
	assert not queue_empty(a)


@pytest.mark.parametrize("domain,event,reply", [
	("mixed.example", "deferred", r"451 4\.4\.1 connect to "
	    r"mx\.mixed\.example\[127\.0\.0\.1\]:\d+ failed"),
	("noaddr.example", "bounced", r"550 5\.4\.4 unable to route: no MX "
	    r"host has an address"),
	("empty.example", "bounced", r"550 5\.4\.4 unable to route: no MX and "
	    r"no address record for the domain"),
	("halfbroken.example", "deferred", r"451 4\.4\.3 address look-up for "
	    r"the MX hosts of halfbroken\.example failed temporarily"),
])
def test_relay_mx_odd_answers(make_instance, fake, domain, event, reply):
	port = H.free_port_base() + 25		# nobody listens there
	a = make_instance({"dns_servers": "127.0.0.1:%d" % fake.port,
	    "dns_timeout": "1", "dns_retries": "0", "queue_scan_interval": "1",
	    "queue_retry_schedule": "1h", "relay_mx_port": str(port)})
	rcpt = "lee@" + domain
	mk = H.marker()
	submit(a, [rcpt], H.simple_message(mk, sender=SENDER, to=rcpt))
	assert wait_for(lambda: re.search(r"event=%s to=<%s> peer=\S+ tls=no "
	    r"reply=\"%s" % (event, re.escape(rcpt), reply), a.log()), 15), \
	    a.log_tail()
	if event == "bounced":
		assert wait_for(lambda: bounces(a, SENDER, mk), 10)
	else:
		assert bounces(a, SENDER, mk) == []
	if domain == "mixed.example":
		assert "event=null-mx-ignored domain=mixed.example" in a.log()


def test_relay_mx_silent_host_costs_only_the_connect_timeout(pair):
	"""docs/config.md timeout_relay_connect: an MX address that never
	answers the SYN (here a listener whose accept queue is full, so the
	kernel drops further SYNs) is given up after timeout_relay_connect,
	not the 5-minute greeting timeout, and the next MX gets the mail."""
	a, b = pair
	hole = socket.socket()
	hole.bind(("127.0.0.5", b.smtp))
	hole.listen(0)
	fill = []
	for _ in range(3):
		f = socket.socket()
		f.setblocking(False)
		try:
			f.connect(("127.0.0.5", b.smtp))
		except BlockingIOError:
			pass
		fill.append(f)
	try:
		rcpt = "sam@silent.example"
		mk = H.marker()
		submit(a, [rcpt], H.simple_message(mk, sender=SENDER, to=rcpt))
		msgs = wait_for(lambda: b.find(rcpt, mk), 20)
		assert len(msgs) == 1, a.log_tail()
		assert re.search(r"event=next-hop peer=mx-silent\.silent\.example"
		    r"\[127\.0\.0\.5\]:%d tls=no reply=\"451 4\.4\.2 timeout in "
		    r"state connect\" next=mx-up\.silent\.example"
		    r"\[127\.0\.0\.1\]:%d" % (b.smtp, b.smtp), a.log()), \
		    a.log()[-3000:]
	finally:
		for f in fill:
			f.close()
		hole.close()
