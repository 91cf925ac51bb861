"""Smarthost AUTH and the per-domain TLS policy, with a second sealpost
instance as the peer: its submission port wants STARTTLS, then AUTH.
Credentials come from a mode-0600 file read at each AUTH (never logged),
go only over TLS, and a smarthost without STARTTLS gets none."""

import asyncio
import base64
import os
import pwd
import re
import ssl
import threading

import sealpost_harness as H
from relay_support import (FakePeer, queue_empty, run_until_stopped, submit,
    wait_for)

SENDER = "alice@example.test"
PASSWORD = H.USERS[SENDER]


def secret_file(a, text):
	"""The password file, owned by the user A's runner runs as, in A's
	directory (which the harness removes)."""
	path = a.dir / "relay.secret"
	path.write_text(text)
	os.chmod(path, 0o600)
	m = re.search(r"(?m)^user\s*=\s*(\S+)\s*$", a.config_text())
	if os.geteuid() == 0 and m:
		pw = pwd.getpwnam(m.group(1))
		os.chown(path, pw.pw_uid, pw.pw_gid)
	return path


def smarthost_pair(make_instance, b_overrides=None):
	"""B: the smarthost (domains example.test and example.net, carol a
	local user there); A: relays everything remote to B's submission."""
	over = {"domains": "example.test, example.net"}
	over.update(b_overrides or {})
	b = make_instance(over, start=False, name="b")
	b.cli("user", "add", "carol@example.net", "--password-stdin",
	    input=b"carol-Pw-3\n")
	b.start()
	a = make_instance({"queue_scan_interval": "1",
	    "queue_retry_schedule": "1s"}, start=False, name="a")
	return a, b


def start_a(a, route, password):
	path = secret_file(a, password + "\n")
	a.conf.write_text(H.config_with_overrides(a.config_text(), {
	    "relay_host": route, "relay_auth_user": SENDER,
	    "relay_auth_password_file": str(path)}))
	a.start()
	return path


def test_client_smarthost_auth_after_starttls(make_instance):
	a, b = smarthost_pair(make_instance)
	path = start_a(a, "[127.0.0.1]:%d" % b.submission, "not-" + PASSWORD)
	mk = H.marker()
	submit(a, ["carol@example.net"], H.simple_message(mk, sender=SENDER,
	    to="carol@example.net"))
	# A wrong password: deferred (a configuration problem, not a bounce).
	assert wait_for(lambda: re.search(r"event=deferred to=<carol@example\."
	    r"net> .*reply=\"451 4\.7\.0 smarthost refused AUTH: 535",
	    a.log()), 15), a.log_tail()
	assert "event=auth-failed user=%s" % SENDER in a.log()
	# Fixed in the file: used at the next attempt, no reload.
	path.write_text(PASSWORD + "\n")
	msgs = wait_for(lambda: b.find("carol@example.net", mk), 20)
	assert len(msgs) == 1, a.log_tail()
	assert wait_for(lambda: queue_empty(a), 10), a.log_tail()
	log = a.log()
	assert re.search(r"relay peer=127\.0\.0\.1:%d event=auth user=%s "
	    r"mech=PLAIN result=ok" % (b.submission, re.escape(SENDER)), log), log
	assert re.search(r"event=delivered to=<carol@example\.net> peer=127\.0\.0"
	    r"\.1:%d tls=TLSv1\.\d cipher=\S+ " % b.submission, log), log
	# B saw a TLS session authenticated as alice.
	assert re.search(r"submission sid=\S+ event=auth-ok addr=127\.0\.0\.1 "
	    r"mech=PLAIN login=%s" % re.escape(SENDER), b.log()), b.log_tail()
	assert PASSWORD not in log and PASSWORD not in b.log()
	assert b"(using TLSv1." in msgs[0]


class LoginPeer:
	"""A smarthost offering STARTTLS and, once TLS is up, only AUTH
	LOGIN; records the credentials it was given and the transactions."""

	def __init__(self, cert, key):
		self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		self.ctx.load_cert_chain(cert, key)
		self.auths = []
		self.transactions = []
		self.port = H.free_port_base() + 25
		self.loop = asyncio.new_event_loop()
		ready = threading.Event()

		def run():
			asyncio.set_event_loop(self.loop)
			self.server = self.loop.run_until_complete(asyncio.start_server(
			    self._session, "127.0.0.1", self.port))
			ready.set()
			run_until_stopped(self.loop)
		self.thread = threading.Thread(target=run, daemon=True)
		self.thread.start()
		ready.wait(5)

	async def _session(self, reader, writer):
		tls = authed = False

		async def send(line):
			writer.write(line.encode() + b"\r\n")
			await writer.drain()

		async def line():
			return (await reader.readline()).decode().rstrip("\r\n")
		try:
			await send("220 login.peer ESMTP")
			while True:
				cmd = await line()
				up = cmd.upper()
				if up.startswith("EHLO"):
					ext = "AUTH LOGIN" if tls else "STARTTLS"
					await send("250-login.peer\r\n250-%s\r\n250 8BITMIME" %
					    ext)
				elif up == "STARTTLS" and not tls:
					await send("220 2.0.0 go")
					await writer.start_tls(self.ctx)
					tls = True
				elif up == "AUTH LOGIN" and tls:
					await send("334 VXNlcm5hbWU6")
					user = base64.b64decode(await line()).decode()
					await send("334 UGFzc3dvcmQ6")
					pw = base64.b64decode(await line()).decode()
					self.auths.append((user, pw))
					authed = pw == PASSWORD
					await send("235 2.7.0 ok" if authed else
					    "535 5.7.8 no")
				elif up.startswith("MAIL") and not authed:
					await send("530 5.7.0 authentication required")
				elif up.startswith("MAIL") or up.startswith("RCPT"):
					await send("250 2.0.0 ok")
				elif up == "DATA":
					await send("354 go")
					data = b""
					while (l := await reader.readline()) not in (b".\r\n",
					    b""):
						data += l
					self.transactions.append(data)
					await send("250 2.0.0 queued")
				elif up == "QUIT" or not cmd:
					await send("221 2.0.0 bye")
					break
				else:
					await send("502 5.5.2 no")
		except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
			pass
		finally:
			writer.close()

	def stop(self):
		if self.loop.is_closed():
			return

		def _stop():
			self.server.close()
			self.loop.stop()
		self.loop.call_soon_threadsafe(_stop)
		self.thread.join(5)


def test_client_smarthost_auth_login_when_plain_is_not_offered(
    make_instance):
	a = make_instance({"queue_scan_interval": "1",
	    "queue_retry_schedule": "1h"}, start=False, name="a")
	peer = LoginPeer(a.cert, str(a.dir / "tls" / "key.pem"))
	try:
		start_a(a, "[127.0.0.1]:%d" % peer.port, PASSWORD)
		mk = H.marker()
		submit(a, ["carol@example.net"], H.simple_message(mk,
		    sender=SENDER, to="carol@example.net"))
		assert wait_for(lambda: peer.transactions, 15), a.log_tail()
		assert peer.auths == [(SENDER, PASSWORD)]
		assert mk.encode() in peer.transactions[0]
		log = a.log()
		assert re.search(r"event=auth user=%s mech=LOGIN result=ok" %
		    re.escape(SENDER), log), log
		assert PASSWORD not in log
	finally:
		peer.stop()


def test_client_smarthost_without_starttls_gets_no_credentials(make_instance):
	peer = FakePeer(ehlo_lines=["PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME"])
	try:
		a = make_instance({"queue_scan_interval": "1",
		    "queue_retry_schedule": "1h"}, start=False, name="a")
		start_a(a, "[127.0.0.1]:%d" % peer.port, PASSWORD)
		mk = H.marker()
		submit(a, ["carol@example.net"], H.simple_message(mk,
		    sender=SENDER, to="carol@example.net"))
		assert wait_for(lambda: "event=deferred" in a.log(), 15), \
		    a.log_tail()
		log = a.log()
		assert re.search(r"event=auth-refused user=%s reason=\"no TLS" %
		    re.escape(SENDER), log), log
		assert "451 4.7.0 not sending smarthost credentials without TLS" \
		    in log
		assert peer.transactions == []
		assert PASSWORD not in log
		assert not queue_empty(a)
	finally:
		peer.stop()


def test_client_tls_policy_per_domain(make_instance):
	"""tls_outbound = encrypt, but example.net must verify (B's
	certificate is self-signed: deferred) and legacy.example may go in
	the clear (a peer without STARTTLS)."""
	peer = FakePeer()
	try:
		b = make_instance({"domains": "example.net, example.org"},
		    start=False, users=False, name="b")
		for u in ("carol@example.net", "dan@example.org"):
			b.cli("user", "add", u, "--password-stdin", input=b"pw-Pw-123\n")
		b.start()
		route = "[127.0.0.1]:%d" % b.smtp
		a = make_instance({"queue_scan_interval": "1",
		    "queue_retry_schedule": "1h", "tls_outbound": "encrypt",
		    "tls_policy": "Example.NET=verify, legacy.example=may",
		    "transport": "example.net=%s, example.org=%s, legacy.example="
		    "[127.0.0.1]:%d" % (route, route, peer.port)}, name="a")
		mk = H.marker()
		submit(a, ["carol@example.net", "dan@example.org",
		    "eve@legacy.example"], H.simple_message(mk, sender=SENDER,
		    to="carol@example.net"))
		assert wait_for(lambda: b.find("dan@example.org", mk), 15), \
		    a.log_tail()
		assert wait_for(lambda: peer.transactions, 15), a.log_tail()
		assert wait_for(lambda: "event=deferred to=<carol@example.net>"
		    in a.log(), 15), a.log_tail()
		log = a.log()
		assert re.search(r"event=deferred to=<carol@example\.net> .*reply="
		    r"\"451 4\.7\.5 TLS with 127\.0\.0\.1:%d failed: [^\"]*"
		    r"certificate verify failed" % b.smtp, log), log[-3000:]
		assert re.search(r"event=delivered to=<dan@example\.org> .*tls=TLSv1",
		    log), log[-3000:]
		assert re.search(r"event=delivered to=<eve@legacy\.example> .*tls=no ",
		    log), log[-3000:]
		assert b.find("carol@example.net", mk) == []
	finally:
		peer.stop()
