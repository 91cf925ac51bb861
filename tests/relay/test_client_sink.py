"""The outbound client against Postfix's smtp-sink (Debian postfix) as
the peer: one sealpost instance routes a domain per sink variant through
`transport`. Pipelining on and off, BODY=8BITMIME and SIZE= on MAIL, a
peer without 8BITMIME or SMTPUTF8 (bounce with the reason), a hard
reject (bounce), a soft reject then success, a peer hanging up after the
data (retry), a peer too slow to answer DATA (timeout, retry), and a peer
announcing a SIZE limit below the message (smtp-sink announces none, so
that one is the relay suite's FakePeer)."""

import os
import pwd
import re
import shutil
import socket
import subprocess
import time

import pytest

import sealpost_harness as H
from relay_support import FakePeer, wait_for

SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
pytestmark = pytest.mark.skipif(not os.path.exists(SINK),
    reason="smtp-sink (Debian package postfix) not installed")

SENDER = "alice@example.test"
# domain -> smtp-sink flags
VARIANTS = {
	"plain.example": [],
	"nopipe.example": ["-p"],
	"no8bit.example": ["-8"],
	"reject.example": ["-f", "RCPT", "-B", "550 5.1.1 no such user here"],
	"later.example": ["-r", "RCPT", "-b", "451 4.3.2 try again later"],
	"hangup.example": ["-q", "."],
	# Lock-step: a pipelining smtp-sink holds the MAIL and RCPT replies
	# back with the DATA one (RFC 2920 allows it).
	"slow.example": ["-p", "-w", "30"],
}


class Sink:
	"""smtp-sink on a loopback port, dumping each message into a
	directory (one file per message, with X-Mail-Args etc.)."""

	def __init__(self, flags, port=None):
		self.port = port or H.free_port_base() + 25
		self.dir = H.make_instance_dir()
		os.chmod(self.dir, 0o777)
		self.start(flags)

	def start(self, flags):
		cmd = [SINK]
		if os.geteuid() == 0:
			cmd += ["-u", "nobody"]	# smtp-sink refuses to run as root
		cmd += ["-d", str(self.dir / "%H%M%S.")] + flags + [
		    "127.0.0.1:%d" % self.port, "16"]
		self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
		    stderr=subprocess.DEVNULL)
		deadline = time.monotonic() + 5
		while time.monotonic() < deadline:
			try:
				socket.create_connection(("127.0.0.1", self.port), 1).close()
				return
			except OSError:
				time.sleep(0.05)
		raise RuntimeError("smtp-sink did not start on %d" % self.port)

	def stop(self):
		self.proc.terminate()
		self.proc.wait(5)

	def restart(self, flags):
		self.stop()
		self.start(flags)

	def dumps(self, marker=None):
		out = []
		for p in sorted(self.dir.iterdir()):
			try:
				data = p.read_bytes()
			except OSError:
				continue
			if marker is None or marker.encode() in data:
				out.append(data)
		return out

	def cleanup(self):
		self.stop()
		shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def world(module_factory):
	sinks = {d: Sink(f) for d, f in VARIANTS.items()}
	size_peer = FakePeer(ehlo_lines=["PIPELINING", "SIZE 300", "8BITMIME"])
	routes = ["%s=[127.0.0.1]:%d" % (d, s.port) for d, s in sinks.items()]
	routes.append("small.example=[127.0.0.1]:%d" % size_peer.port)
	a = module_factory({"transport": ", ".join(routes),
	    "queue_scan_interval": "1", "queue_retry_schedule": "1s",
	    "timeout_relay_data": "2"}, name="sinkclient")
	try:
		yield a, sinks, size_peer
	finally:
		for s in sinks.values():
			s.cleanup()
		size_peer.stop()


def send(a, rcpt, body, mail_extra=""):
	c = a.client("submission")
	c.ehlo()
	c.starttls()
	c.ehlo()
	r = c.auth_plain(SENDER, H.USERS[SENDER])
	assert r.code == 235, r
	r = c.mail_message(SENDER, [rcpt], body, extra=mail_extra)
	assert r.code == 250, r
	c.quit()


def bounce_for(a, mk, timeout=20):
	"""The bounce in the sender's Maildir that quotes mk's headers."""
	msgs = wait_for(lambda: [m for m in a.find(SENDER, mk)
	    if b"Undelivered Mail" in m], timeout)
	assert len(msgs) == 1, a.log_tail()
	return msgs[0]


def test_client_sink_pipelined_8bit_gets_body_param(world):
	a, sinks, _ = world
	mk = H.marker()
	body = H.simple_message(mk, sender=SENDER, to="x@plain.example",
	    body="Gr\u00fc\u00dfe %s\r\n" % mk)
	send(a, "x@plain.example", body, " BODY=8BITMIME")
	got = wait_for(lambda: sinks["plain.example"].dumps(mk), 15)
	assert len(got) == 1, a.log_tail()
	args = re.search(rb"X-Mail-Args: (.*)", got[0]).group(1)
	assert args.startswith(b"<%s>" % SENDER.encode()), args
	assert b" BODY=8BITMIME" in args, args
	# smtp-sink announces no SIZE, so none is sent.
	assert b"SIZE=" not in args, args
	# The dump file stores lines with LF.
	assert got[0].endswith(body.replace(b"\r\n", b"\n") + b"\n"), \
	    got[0][-300:]
	assert wait_for(lambda: re.search(r"event=delivered to=<x@plain\.example> "
	    r"peer=127\.0\.0\.1:%d tls=no reply=\"250 2\.0\.0 Ok" %
	    sinks["plain.example"].port, a.log()), 5), a.log_tail()


def test_client_sink_without_pipelining_delivers(world):
	a, sinks, _ = world
	mk = H.marker()
	send(a, "y@nopipe.example", H.simple_message(mk, sender=SENDER,
	    to="y@nopipe.example"))
	got = wait_for(lambda: sinks["nopipe.example"].dumps(mk), 15)
	assert len(got) == 1, a.log_tail()
	assert b"BODY=" not in re.search(rb"X-Mail-Args: (.*)", got[0]).group(1)


def test_client_sink_no_8bitmime_bounces_8bit_message(world):
	a, sinks, _ = world
	mk = H.marker()
	send(a, "z@no8bit.example", H.simple_message(mk, sender=SENDER,
	    to="z@no8bit.example", body="caf\u00e9 %s\r\n" % mk), " BODY=8BITMIME")
	b = bounce_for(a, mk)
	assert b"Status: 5.6.3" in b, b
	assert b"8-bit content but the peer does not support 8BITMIME" in b
	assert sinks["no8bit.example"].dumps(mk) == []


def test_client_sink_no_smtputf8_bounces_utf8_recipient(world):
	a, sinks, _ = world
	mk = H.marker()
	rcpt = "j\u00f6rg@plain.example"
	send(a, rcpt, H.simple_message(mk, sender=SENDER, to="joerg@plain.example"),
	    " SMTPUTF8")
	b = bounce_for(a, mk)
	assert b"Status: 5.6.7" in b, b
	assert b"needs SMTPUTF8" in b
	assert b"RFC 6531 3.7.5" in b
	assert sinks["plain.example"].dumps(mk) == []


def test_client_sink_hard_reject_bounces(world):
	a, sinks, _ = world
	mk = H.marker()
	send(a, "gone@reject.example", H.simple_message(mk, sender=SENDER,
	    to="gone@reject.example"))
	b = bounce_for(a, mk)
	assert b"Status: 5.1.1" in b, b
	assert b"550 5.1.1 no such user here" in b


def test_client_sink_soft_reject_then_accept(world):
	a, sinks, _ = world
	mk = H.marker()
	sink = sinks["later.example"]
	send(a, "w@later.example", H.simple_message(mk, sender=SENDER,
	    to="w@later.example"))
	assert wait_for(lambda: re.search(r"event=deferred to=<w@later\.example> "
	    r".*reply=\"451 4\.3\.2 try again later\"", a.log()), 15), a.log_tail()
	sink.restart([])
	got = wait_for(lambda: sink.dumps(mk), 15)
	assert len(got) == 1, a.log_tail()
	assert "event=delivered to=<w@later.example>" in a.log()


def test_client_sink_hangup_after_data_is_retried(world):
	a, sinks, _ = world
	mk = H.marker()
	sink = sinks["hangup.example"]
	send(a, "v@hangup.example", H.simple_message(mk, sender=SENDER,
	    to="v@hangup.example"))
	assert wait_for(lambda: re.search(r"event=deferred to=<v@hangup\.example> "
	    r".*reply=\"451 4\.4\.2 connection lost in state dot\"", a.log()),
	    15), a.log_tail()
	sink.restart([])
	assert wait_for(lambda: "event=delivered to=<v@hangup.example>" in
	    a.log(), 15), a.log_tail()
	# At least once: the copy whose 250 never came may be there too.
	assert 1 <= len(sink.dumps(mk)) <= 2


def test_client_sink_slow_data_reply_times_out(world):
	a, sinks, _ = world
	mk = H.marker()
	send(a, "u@slow.example", H.simple_message(mk, sender=SENDER,
	    to="u@slow.example"))
	assert wait_for(lambda: re.search(r"event=deferred to=<u@slow\.example> "
	    r".*reply=\"451 4\.4\.2 timeout in state data\"", a.log()), 20), \
	    a.log_tail()


def test_client_size_limit_below_message_bounces_with_limit(world):
	a, _, peer = world
	mk = H.marker()
	send(a, "t@small.example", H.simple_message(mk, sender=SENDER,
	    to="t@small.example", body="x" * 400 + "\r\n"))
	b = bounce_for(a, mk)
	assert b"Status: 5.3.4" in b, b
	assert re.search(rb"message size \d+ exceeds the limit of 300 the peer "
	    rb"announced", b), b
	assert peer.transactions == []


def test_client_sink_message_received_with_smtputf8_needs_it(world):
	"""ASCII addresses, but the message came in with SMTPUTF8 (our
	Received says "with UTF8SMTPSA"): no downgrade to smtp-sink."""
	a, sinks, _ = world
	mk = H.marker()
	send(a, "s@plain.example", H.simple_message(mk, sender=SENDER,
	    to="s@plain.example", extra_headers="X-Note: \u00fcber\r\n"),
	    " SMTPUTF8 BODY=8BITMIME")
	b = bounce_for(a, mk)
	assert b"Status: 5.6.7" in b, b
	assert sinks["plain.example"].dumps(mk) == []
