"""Support for the POP3 protocol and interop suites: a sealpost instance
on free loopback ports, a raw POP3 client that shows every byte as sent,
SMTP delivery, Maildir writers and a SCRAM-SHA-256 client.

An instance is made with `sealpost init DIR --hostname H --domain D
--port-base N` and accounts with `sealpost -c CONF user add ADDR
--password-stdin`, the contract the shared harness uses, and points its
dns_servers at the harness's loopback dnsmasq.

Nothing here touches the network beyond 127.0.0.0/8, and only processes
started here are signalled, by PID.
"""

import base64
import hashlib
import hmac
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

HOSTNAME = "mx.test.example"
DOMAIN = "example.test"
SANITIZED = os.environ.get("SEALPOST_SANITIZED") == "1"
SLOW = 3.0 if SANITIZED else 1.0
SAN_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

USERS = {
	"alice@example.test": "alice-Secret-1",
	"bob@example.test": "bob-Secret-2",
	"carol@example.test": "carol-Secret-3",
	"dave@example.test": "dave-Secret-4",
	"erin@example.test": "erin-Secret-5",
	"frank@example.test": "frank-Secret-6",
	"gina@example.test": "gina-Secret-7",
}
APOP_SECRETS = {"carol@example.test": "carol-apop-secret"}
PORT_OFFSETS = {"smtp": 25, "submission": 587, "submissions": 465,
    "pop3": 110, "pop3s": 995}
# Started as root (containers, CI) the daemon refuses to run sessions as
# root: it runs them as nobody, which must then own data_dir.
RUN_USER = "nobody" if os.geteuid() == 0 else ""


def build_dir():
	env = os.environ.get("SEALPOST_BUILD")
	if env:
		return Path(env)
	return Path(__file__).resolve().parents[2] / "build"


def port_is_free(port):
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	try:
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind(("127.0.0.1", port))
		return True
	except OSError:
		return False
	finally:
		s.close()


def free_port_base():
	for _ in range(500):
		base = random.randrange(20000, 60000 - 1000)
		if all(port_is_free(base + off) for off in PORT_OFFSETS.values()):
			return base
	raise RuntimeError("no free port base found")


class Instance:
	def __init__(self, dir, overrides=None, dns_port=None):
		self.build = build_dir()
		self.dir = Path(dir)
		self.overrides = {"timeout_tls_handshake": "2",
		    "timeout_shutdown": "5", "timeout_command": "30",
		    "max_errors": "30"}
		# No test may query the machine's resolver: the loopback dnsmasq.
		if dns_port is not None:
			self.overrides["dns_servers"] = "127.0.0.1:%d" % dns_port
		self.overrides.update(overrides or {})
		self.proc = None
		self.logpath = self.dir / "sealpostd.log"
		self.san_offset = 0
		self.ports = {}

	@property
	def conf(self):
		return self.dir / "sealpost.conf"

	@property
	def cert(self):
		return str(self.dir / "tls" / "cert.pem")

	@property
	def data(self):
		return self.dir / "data"

	@property
	def pop3(self):
		return self.ports["pop3"]

	@property
	def pop3s(self):
		return self.ports["pop3s"]

	@property
	def smtp(self):
		return self.ports["smtp"]

	# -- creation -----------------------------------------------------
	def _init_with_cli(self, base):
		cmd = [str(self.build / "sealpost"), "init", str(self.dir),
		    "--hostname", HOSTNAME, "--domain", DOMAIN,
		    "--port-base", str(base)]
		r = subprocess.run(cmd, capture_output=True, timeout=60 * SLOW)
		if r.returncode != 0 or not self.conf.exists():
			return False
		for addr, pw in USERS.items():
			r = subprocess.run([str(self.build / "sealpost"), "-c",
			    str(self.conf), "user", "add", addr, "--password-stdin"],
			    input=(pw + "\n").encode(), capture_output=True,
			    timeout=60 * SLOW)
			if r.returncode != 0:
				raise RuntimeError("user add: %s" % r.stderr)
		for addr, secret in APOP_SECRETS.items():
			r = subprocess.run([str(self.build / "sealpost"), "-c",
			    str(self.conf), "user", "apop", addr, "--secret-stdin"],
			    input=(secret + "\n").encode(), capture_output=True,
			    timeout=60 * SLOW)
			if r.returncode != 0:
				self._write_apop()
		return True

	def _write_apop(self):
		with open(self.data / "apop", "w") as f:
			for addr, secret in APOP_SECRETS.items():
				f.write("%s\t%s\n" % (addr, secret))

	def fix_owner(self, paths=None):
		"""Files written here belong to the daemon's user."""
		if RUN_USER == "":
			return
		import pwd
		pw = pwd.getpwnam(RUN_USER)
		os.chown(self.data, pw.pw_uid, pw.pw_gid)
		for p in paths if paths is not None else self.data.rglob("*"):
			os.chown(p, pw.pw_uid, pw.pw_gid, follow_symlinks=False)

	def create(self):
		base = free_port_base()
		self.ports = {k: base + v for k, v in PORT_OFFSETS.items()}
		if not self._init_with_cli(base):
			raise RuntimeError("sealpost init failed in %s" % self.dir)
		text = self.conf.read_text().splitlines()
		out = []
		for line in text:
			k = line.split("=", 1)[0].strip()
			if k in self.overrides:
				continue
			out.append(line)
		for k, v in self.overrides.items():
			out.append("%s = %s" % (k, v))
		self.conf.write_text("\n".join(out) + "\n")
		return self

	# -- running ------------------------------------------------------
	def start(self):
		log = open(self.logpath, "ab")
		self.proc = subprocess.Popen(
		    [str(self.build / "sealpostd"), "-c", str(self.conf)],
		    stdout=log, stderr=log, stdin=subprocess.DEVNULL)
		log.close()
		deadline = time.monotonic() + 15 * SLOW
		last = None
		while time.monotonic() < deadline:
			if self.proc.poll() is not None:
				raise RuntimeError("sealpostd exited %d:\n%s" % (
				    self.proc.returncode, self.log()[-4000:]))
			try:
				with socket.create_connection(("127.0.0.1", self.pop3),
				    timeout=2 * SLOW) as s:
					line = s.makefile("rb").readline()
					if line.startswith(b"+OK"):
						s.sendall(b"QUIT\r\n")
						return self
					last = line
			except OSError as e:
				last = e
			time.sleep(0.05)
		raise RuntimeError("sealpostd not ready (%r):\n%s" % (last,
		    self.log()[-4000:]))

	def stop(self):
		if self.proc is None or self.proc.poll() is not None:
			return
		os.kill(self.proc.pid, signal.SIGTERM)
		try:
			self.proc.wait(15 * SLOW)
		except subprocess.TimeoutExpired:
			os.kill(self.proc.pid, signal.SIGKILL)
			self.proc.wait(10)

	def log(self):
		try:
			return self.logpath.read_text(errors="replace")
		except FileNotFoundError:
			return ""

	def sanitizer_report(self):
		text = self.log()
		new = text[self.san_offset:]
		self.san_offset = len(text)
		# Leaks at the master's exit (config, listeners) are not this
		# suite's business; a leak through POP3 code is.
		if "ERROR: AddressSanitizer" in new or "runtime error:" in new:
			return new[-8000:]
		if "LeakSanitizer" in new and "/src/pop3/" in new:
			return new[-8000:]
		return None

	# -- clients ------------------------------------------------------
	def client(self, tls=False, starttls=False, source=None):
		c = Pop3Client(self.pop3s if tls else self.pop3, tls=tls,
		    cafile=self.cert, source=source)
		if starttls:
			c.stls()
		return c

	def login(self, user, password=None, source=None, tls=True):
		"""A client logged in over 995 (or STLS on 110)."""
		c = self.client(tls=tls, starttls=not tls, source=source)
		c.cmd_ok("USER " + user)
		c.cmd_ok("PASS " + (password or USERS[user]))
		return c

	# -- mail ---------------------------------------------------------
	def maildir(self, addr):
		local, domain = addr.rsplit("@", 1)
		return self.data / "mail" / domain / local

	def files(self, addr):
		"""{subdir/name: bytes} of every message file of addr."""
		out = {}
		for sub in ("new", "cur"):
			d = self.maildir(addr) / sub
			if d.is_dir():
				for p in d.iterdir():
					out["%s/%s" % (sub, p.name)] = p.read_bytes()
		return out

	def clear(self, addr):
		for sub in ("new", "cur", "tmp"):
			d = self.maildir(addr) / sub
			if d.is_dir():
				for p in d.iterdir():
					p.unlink()

	def drop_file(self, addr, content, name=None, when=None):
		"""Writes a message the way another delivery agent would (no
		,S= in the name unless given; content as is)."""
		md = self.maildir(addr)
		for sub in ("tmp", "new", "cur"):
			(md / sub).mkdir(parents=True, exist_ok=True)
		when = int(when if when is not None else time.time())
		if name is None:
			name = "%d.M%dP%d_%s.othermda" % (when, random.randrange(10**6),
			    os.getpid(), secrets.token_hex(4))
		tmp = md / "tmp" / name
		tmp.write_bytes(content)
		os.utime(tmp, (when, when))
		os.rename(tmp, md / "new" / name)
		self.fix_owner([md.parent, md, md / "tmp", md / "new", md / "cur",
		    md / "new" / name])
		return name

	def smtp_deliver(self, rcpt, body, sender="someone@example.org"):
		"""Sends body (bytes, CRLF lines, not yet dot-stuffed) over SMTP,
		byte for byte; returns the final reply line."""
		s = socket.create_connection(("127.0.0.1", self.smtp),
		    timeout=20 * SLOW)
		f = s.makefile("rb")

		def reply():
			while True:
				line = f.readline()
				if not line:
					raise ConnectionError("smtp closed")
				if line[3:4] != b"-":
					return line

		try:
			assert reply().startswith(b"220")
			for cmd, want in ((b"EHLO client.example.org", b"250"),
			    (b"MAIL FROM:<%s>" % sender.encode(), b"250"),
			    (b"RCPT TO:<%s>" % rcpt.encode(), b"250"),
			    (b"DATA", b"354")):
				s.sendall(cmd + b"\r\n")
				r = reply()
				assert r.startswith(want), (cmd, r)
			s.sendall(dot_stuff(body) + b".\r\n")
			r = reply()
			assert r.startswith(b"250"), r
			s.sendall(b"QUIT\r\n")
			return r
		finally:
			s.close()


def dot_stuff(body):
	"""SMTP DATA transparency (RFC 5321 4.5.2) for CRLF text."""
	if not body.endswith(b"\r\n"):
		body += b"\r\n"
	lines = body.split(b"\r\n")[:-1]
	return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
	    for l in lines)


def crlf(data):
	"""Bare LF -> CRLF, as a POP3 server must serve a file."""
	out = bytearray()
	prev = None
	for b in data:
		if b == 0x0A and prev != 0x0D:
			out += b"\r"
		out.append(b)
		prev = b
	return bytes(out)


class Closed(Exception):
	pass


class Pop3Client:
	"""A POP3 client that returns replies exactly as sent."""

	def __init__(self, port, host="127.0.0.1", tls=False, cafile=None,
	    source=None, timeout=None):
		self.timeout = timeout or 20 * SLOW
		self.cafile = cafile
		self.sock = socket.create_connection((host, port),
		    timeout=self.timeout,
		    source_address=(source, 0) if source else None)
		self.buf = b""
		if tls:
			self.sock = self.context().wrap_socket(self.sock,
			    server_hostname="localhost")
		self.greeting = self.line()

	def context(self):
		ctx = ssl.create_default_context(cafile=self.cafile)
		return ctx

	def send(self, data):
		if isinstance(data, str):
			data = data.encode()
		self.sock.sendall(data)

	def _fill(self):
		try:
			chunk = self.sock.recv(1 << 20)
		except (ConnectionResetError, ssl.SSLError):
			chunk = b""
		if not chunk:
			raise Closed(self.buf)
		self.buf += chunk

	def line(self):
		"""One response line with its CRLF."""
		while b"\r\n" not in self.buf:
			self._fill()
		i = self.buf.index(b"\r\n") + 2
		l, self.buf = self.buf[:i], self.buf[i:]
		return l

	def multi(self):
		"""The body of a multi-line response, un-stuffed, raw CRLFs kept;
		reads through the terminating .CRLF."""
		while True:
			i = self.buf.find(b"\r\n.\r\n")
			if self.buf.startswith(b".\r\n"):
				self.buf = self.buf[3:]
				return b""
			if i != -1:
				body, self.buf = self.buf[:i + 2], self.buf[i + 5:]
				lines = body.split(b"\r\n")[:-1]
				return b"".join((l[1:] if l.startswith(b".") else l) +
				    b"\r\n" for l in lines)
			self._fill()

	def raw_multi(self):
		"""Like multi() but without un-stuffing, terminator included."""
		while True:
			if self.buf.startswith(b".\r\n"):
				self.buf = self.buf[3:]
				return b".\r\n"
			i = self.buf.find(b"\r\n.\r\n")
			if i != -1:
				body, self.buf = self.buf[:i + 5], self.buf[i + 5:]
				return body
			self._fill()

	def cmd(self, line):
		self.send(line + "\r\n")
		return self.line()

	def cmd_ok(self, line):
		r = self.cmd(line)
		assert r.startswith(b"+OK"), (line, r)
		return r

	def cmd_multi(self, line):
		r = self.cmd_ok(line)
		return r, self.multi()

	def stls(self):
		r = self.cmd("STLS")
		assert r.startswith(b"+OK"), r
		assert self.buf == b""
		self.sock = self.context().wrap_socket(self.sock,
		    server_hostname="localhost")
		return r

	def capa(self):
		r, body = self.cmd_multi("CAPA")
		return [l.decode() for l in body.split(b"\r\n") if l]

	def expect_closed(self, timeout=None):
		self.sock.settimeout(timeout or 10 * SLOW)
		try:
			while True:
				self._fill()
		except Closed:
			return self.buf
		except socket.timeout:
			raise AssertionError("connection still open: %r" % self.buf)

	def nothing_pending(self, wait=0.3):
		self.sock.settimeout(wait)
		try:
			chunk = self.sock.recv(4096)
		except (socket.timeout, ssl.SSLWantReadError):
			return True
		finally:
			self.sock.settimeout(self.timeout)
		self.buf += chunk
		return chunk == b""

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass


def b64(b):
	return base64.b64encode(b).decode()


class ScramClient:
	"""RFC 5802 / RFC 7677 client side, no channel binding."""

	def __init__(self, user, password):
		self.user = user
		self.password = password
		self.nonce = secrets.token_urlsafe(18)

	def first(self):
		self.bare = "n=%s,r=%s" % (self.user.replace("=", "=3D").replace(
		    ",", "=2C"), self.nonce)
		return ("n,," + self.bare).encode()

	def final(self, server_first):
		sf = server_first.decode()
		attrs = dict(kv.split("=", 1) for kv in sf.split(","))
		assert attrs["r"].startswith(self.nonce)
		salt = base64.b64decode(attrs["s"])
		it = int(attrs["i"])
		salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt,
		    it)
		ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
		sk = hashlib.sha256(ck).digest()
		without = "c=biws,r=" + attrs["r"]
		auth = ",".join((self.bare, sf, without)).encode()
		sig = hmac.new(sk, auth, hashlib.sha256).digest()
		proof = bytes(a ^ b for a, b in zip(ck, sig))
		server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
		self.server_sig = hmac.new(server_key, auth, hashlib.sha256).digest()
		return (without + ",p=" + b64(proof)).encode()

	def verify(self, server_final):
		return server_final.decode() == "v=" + b64(self.server_sig)


def apop_digest(timestamp, secret):
	return hashlib.md5((timestamp + secret).encode()).hexdigest()


def message(mark, body_lines=None, subject="test"):
	lines = [b"From: someone@example.org", b"To: alice@example.test",
	    b"Subject: " + subject.encode(), b"Message-ID: <%s@example.org>" %
	    mark.encode(), b"Date: Mon, 1 Jan 2024 00:00:00 +0000", b""]
	lines += body_lines or [b"Body of " + mark.encode()]
	return b"\r\n".join(lines) + b"\r\n"


def instance_dir():
	"""A directory the daemon's user can reach (pytest's base directory
	is private to the invoking user)."""
	import tempfile
	d = tempfile.mkdtemp(prefix="sealpost-pop3-")
	os.chmod(d, 0o755)
	return d


# -- fixtures -------------------------------------------------------------

def _need_binaries():
	b = build_dir()
	if not (b / "sealpostd").exists():
		pytest.skip("no sealpostd in %s (set SEALPOST_BUILD)" % b)


@pytest.fixture(scope="module")
def pop3_factory(tmp_path_factory, dns_server):
	_need_binaries()
	made = []

	def make(overrides=None):
		inst = Instance(instance_dir(), overrides, dns_server.port).create()
		made.append(inst)
		return inst.start()

	yield make
	reports = []
	for inst in made:
		inst.stop()
		r = inst.sanitizer_report()
		if r:
			reports.append(r)
		elif os.environ.get("SEALPOST_KEEP") != "1":
			shutil.rmtree(inst.dir, ignore_errors=True)
	assert not reports, "sanitizer reports:\n" + "\n".join(reports)


@pytest.fixture(scope="module")
def pop3_inst(pop3_factory):
	return pop3_factory()


_src_counter = [0]


def fresh_source():
	"""A loopback source address of its own, so that the failure throttle
	(per client address) of one test does not slow another."""
	_src_counter[0] += 1
	n = _src_counter[0] + os.getpid() % 200 * 250
	return "127.%d.%d.%d" % (100 + n // 65025 % 100, n // 255 % 255 + 1,
	    n % 254 + 1)
