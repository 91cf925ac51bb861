"""Helpers for the protocol and interop suites: a hermetic DNS server
(dnsmasq on loopback), sealpost instances made with `sealpost init` and run
as real `sealpostd` processes on free loopback ports, a raw SMTP client that
shows every reply exactly as sent, a SCRAM-SHA-256 client (RFC 5802/7677)
and Maildir readers.

Nothing here touches the network beyond 127.0.0.0/8, and only processes
started here are ever signalled (by PID).
"""

import base64
import hashlib
import hmac
import os
import pwd
import random
import re
import secrets
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

HOSTNAME = "mx.test.example"
DOMAIN = "example.test"
SANITIZED = os.environ.get("SEALPOST_SANITIZED") == "1"
# ASan builds start and run several times slower.
SLOW = 3.0 if SANITIZED else 1.0
# Findings that fail a test: sanitizer reports, and a worker or the queue
# runner killed by its seccomp filter (a system call missing from the
# allow-list in src/daemon/sandbox.c shows up here in whichever suite
# makes it).
SAN_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
	"event=sandbox-violation")

# Accounts every instance gets: address -> password.
USERS = {
	"alice@example.test": "alice-Secret-1",
	"bob@example.test": "bob-Secret-2",
}
# Aliases: sales lists only alice (so alice owns it), list lists both.
ALIASES = {
	"list@example.test": ["alice@example.test", "bob@example.test"],
	"sales@example.test": ["alice@example.test"],
	# RFC 5321 4.5.1; docs/operations.md: the admin creates it.
	"postmaster@example.test": ["alice@example.test"],
}

# Outside (non-local) domains the fake DNS knows, so that a sender-domain
# check (a later issue) finds them; SPF lets loopback send for them.
DNS_DOMAINS = ("example.org", "example.net", "bdmail.net", "relay.example.org")

PORT_OFFSETS = {"smtp": 25, "submission": 587, "submissions": 465,
    "pop3": 110, "pop3s": 995}


def port_is_free(port, kind=socket.SOCK_STREAM):
	s = socket.socket(socket.AF_INET, kind)
	try:
		if kind == socket.SOCK_STREAM:
			s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind(("127.0.0.1", port))
		return True
	except OSError:
		return False
	finally:
		s.close()


def free_port_base():
	"""A base N in 20000-60000 such that N+25 ... N+995 are all free."""
	for _ in range(500):
		base = random.randrange(20000, 60000 - 1000)
		if all(port_is_free(base + off) for off in PORT_OFFSETS.values()):
			return base
	raise RuntimeError("no free port base found")


def free_udp_port():
	for _ in range(500):
		p = random.randrange(20000, 60000)
		if port_is_free(p, socket.SOCK_DGRAM) and port_is_free(p):
			return p
	raise RuntimeError("no free UDP port found")


class DnsServer:
	"""dnsmasq on 127.0.0.1:<port>, answering only from the records given
	here: every other name is NXDOMAIN (--local=/#/), nothing is forwarded."""

	def __init__(self, workdir):
		self.workdir = Path(workdir)
		self.port = None
		self.proc = None
		self.logpath = self.workdir / "dnsmasq.log"

	def args(self):
		a = ["/usr/sbin/dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts",
		    "--port=%d" % self.port, "--listen-address=127.0.0.1",
		    "--bind-interfaces", "--pid-file=", "--local=/#/",
		    "--log-queries", "--log-facility=-"]
		a.append("--host-record=%s,127.0.0.1" % HOSTNAME)
		a.append("--mx-host=%s,%s,10" % (DOMAIN, HOSTNAME))
		for d in DNS_DOMAINS:
			a.append("--host-record=mx.%s,127.0.0.1" % d)
			a.append("--host-record=%s,127.0.0.1" % d)
			a.append("--mx-host=%s,mx.%s,10" % (d, d))
			a.append("--txt-record=%s,v=spf1 ip4:127.0.0.0/8 ~all" % d)
		return a

	def start(self):
		if not os.access("/usr/sbin/dnsmasq", os.X_OK):
			raise RuntimeError("/usr/sbin/dnsmasq missing (dnsmasq-base)")
		for _ in range(5):
			self.port = free_udp_port()
			log = open(self.logpath, "ab")
			self.proc = subprocess.Popen(self.args(), stdout=log,
			    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
			log.close()
			time.sleep(0.2)
			if self.proc.poll() is None:
				return self
		raise RuntimeError("dnsmasq did not start: " +
		    self.logpath.read_text(errors="replace")[-2000:])

	def stop(self):
		if self.proc is not None and self.proc.poll() is None:
			os.kill(self.proc.pid, signal.SIGTERM)
			try:
				self.proc.wait(5)
			except subprocess.TimeoutExpired:
				os.kill(self.proc.pid, signal.SIGKILL)
				self.proc.wait(5)


def config_with_overrides(text, overrides):
	"""Returns the config text with each key of overrides set: an existing
	active `key = ...` line is replaced in place (a later duplicate key is
	an error), a key not present is appended."""
	lines = text.splitlines()
	done = set()
	for i, line in enumerate(lines):
		m = re.match(r"\s*([A-Za-z0-9_]+)\s*=", line)
		if m and m.group(1) in overrides:
			key = m.group(1)
			if key in done:
				lines[i] = "# (dup) " + line
				continue
			lines[i] = "%s = %s" % (key, overrides[key])
			done.add(key)
	for key, val in overrides.items():
		if key not in done:
			lines.append("%s = %s" % (key, val))
	return "\n".join(lines) + "\n"


# Settings every test instance gets: short timeouts, a trusted network that
# is *not* 127.0.0.1 (so the ordinary test client is an outsider; a client
# bound to 127.0.0.2 is trusted), the fake DNS.
DEFAULT_OVERRIDES = {
	"trusted_networks": "127.0.0.2/32",
	"timeout_command": "30",
	"timeout_data_block": "30",
	"timeout_tls_handshake": "2",
	"timeout_shutdown": "5",
	# MX delivery of instances that do not route remote mail themselves
	# goes to a loopback port where nothing listens (deferred, never to
	# whatever might run on port 25 of the test machine).
	"relay_mx_port": "1",
}


def run_as():
	"""The account to run the instance's commands and daemon as, or None
	for the invoking user. By default the harness runs sealpost as whoever
	runs the tests: as root that is the production path (the master keeps
	root, workers switch to the config's `user`, which `sealpost init`
	sets). SEALPOST_TEST_USER=name (when root) runs everything as name
	instead, the "ordinary user" mode of DESIGN.md."""
	name = os.environ.get("SEALPOST_TEST_USER")
	if not name or os.geteuid() != 0:
		return None
	return pwd.getpwnam(name)


def proc_user_kw():
	pw = run_as()
	if pw is None:
		return {}
	return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def make_instance_dir():
	"""A fresh directory the instance's processes may reach (pytest's own
	tmp dirs are 0700, which unprivileged workers cannot traverse)."""
	import tempfile
	d = tempfile.mkdtemp(prefix="sealpost-test-", dir="/tmp")
	os.chmod(d, 0o755)
	pw = run_as()
	if pw is not None:
		os.chown(d, pw.pw_uid, pw.pw_gid)
	return Path(d)


class Instance:
	"""One sealpost instance: `sealpost init` in dir, accounts, sealpostd."""

	def __init__(self, build, dir, dns_port, overrides=None, users=True):
		self.build = Path(build)
		self.dir = Path(dir)
		self.dns_port = dns_port
		self.overrides = dict(DEFAULT_OVERRIDES)
		self.overrides["dns_servers"] = "127.0.0.1:%d" % dns_port
		self.overrides.update(overrides or {})
		self.proc = None
		self.logpath = self.dir / "sealpostd.log"
		self.san_offset = 0
		self.base = None
		self.ports = {}
		self.want_users = users
		self.starts = 0
		self.stopped = False	# stopped or killed on purpose

	# -- paths --------------------------------------------------------
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
	def smtp(self):
		return self.ports["smtp"]

	@property
	def submission(self):
		return self.ports["submission"]

	@property
	def submissions(self):
		return self.ports["submissions"]

	# -- creation -----------------------------------------------------
	def cli(self, *args, input=None, check=True):
		cmd = [str(self.build / "sealpost"), "-c", str(self.conf)] + list(args)
		r = subprocess.run(cmd, input=input, capture_output=True, timeout=60 * SLOW,
		    **proc_user_kw())
		if check and r.returncode != 0:
			raise RuntimeError("%s failed (%d): %s %s" % (" ".join(cmd),
			    r.returncode, r.stdout.decode(errors="replace"),
			    r.stderr.decode(errors="replace")))
		return r

	def create(self):
		self.base = free_port_base()
		self.ports = {k: self.base + v for k, v in PORT_OFFSETS.items()}
		cmd = [str(self.build / "sealpost"), "init", str(self.dir),
		    "--hostname", HOSTNAME, "--domain", DOMAIN,
		    "--port-base", str(self.base)]
		r = subprocess.run(cmd, capture_output=True, timeout=60 * SLOW,
		    **proc_user_kw())
		if r.returncode != 0:
			raise RuntimeError("sealpost init failed (%d): %s" % (
			    r.returncode, r.stderr.decode(errors="replace")))
		text = self.conf.read_text()
		self.conf.write_text(config_with_overrides(text, self.overrides))
		if self.want_users:
			for addr, pw in USERS.items():
				self.cli("user", "add", addr, "--password-stdin",
				    input=(pw + "\n").encode())
			have = (self.data / "aliases").read_text() if (self.data / "aliases").exists() else ""
			for addr, targets in ALIASES.items():
				if re.search(r"(?mi)^%s\s*:" % re.escape(addr), have):
					# init may create postmaster@ itself
					continue
				self.cli("alias", "add", addr, *targets)
		return self

	def config_text(self):
		return self.conf.read_text()

	# -- running ------------------------------------------------------
	def start(self, wait=True):
		"""Starts sealpostd; if another process grabbed one of the ports
		between free_port_base() and the bind, moves to a new base."""
		for attempt in range(3):
			try:
				return self._start(wait)
			except RuntimeError:
				if (attempt == 2 or self.starts != 1 + attempt or
				    "Address already in use" not in self.log()):
					raise
				self._rebase_ports()

	def _rebase_ports(self):
		self.base = free_port_base()
		self.ports = {k: self.base + v for k, v in PORT_OFFSETS.items()}
		self.conf.write_text(config_with_overrides(self.conf.read_text(),
		    {"listen_" + k: "127.0.0.1:%d" % p for k, p in self.ports.items()}))

	def _start(self, wait=True):
		self.stopped = False
		log = open(self.logpath, "ab")
		env = dict(os.environ)
		self.proc = subprocess.Popen(
		    [str(self.build / "sealpostd"), "-c", str(self.conf)],
		    stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
		    **proc_user_kw())
		log.close()
		self.starts += 1
		if wait:
			self.wait_ready()
		return self

	def wait_ready(self, timeout=None):
		deadline = time.monotonic() + (timeout or 15 * SLOW)
		last = None
		while time.monotonic() < deadline:
			if self.proc.poll() is not None:
				raise RuntimeError("sealpostd exited with %d:\n%s" % (
				    self.proc.returncode, self.log_tail()))
			text = self.log()
			if any(m in text for m in SAN_MARKERS):
				# e.g. workers dying at start-up and being restarted in a loop
				raise RuntimeError("sanitizer report while starting:\n%s" % (
				    self.sanitizer_report(),))
			try:
				s = socket.create_connection(("127.0.0.1", self.smtp), timeout=2 * SLOW)
				try:
					f = s.makefile("rb")
					line = f.readline()
					if line.startswith(b"220"):
						s.sendall(b"QUIT\r\n")
						return
					last = line
				finally:
					s.close()
			except OSError as e:
				last = e
			time.sleep(0.05)
		raise RuntimeError("sealpostd not ready (%r):\n%s" % (last, self.log_tail()))

	def running(self):
		return self.proc is not None and self.proc.poll() is None

	def stop(self, timeout=None):
		"""SIGTERM by PID; returns the exit status (None if it had to be
		killed)."""
		if self.proc is None:
			return None
		if self.proc.poll() is not None:
			return self.proc.returncode
		self.stopped = True
		tree = self.pids()
		os.kill(self.proc.pid, signal.SIGTERM)
		limit = timeout or (int(self.overrides.get("timeout_shutdown", 5)) + 5) * SLOW
		try:
			return self.proc.wait(limit)
		except subprocess.TimeoutExpired:
			self.kill9(tree)
			return None

	def pids(self):
		"""The master and every descendant (workers, queue runner)."""
		if self.proc is None or self.proc.poll() is not None:
			return []
		return process_tree(self.proc.pid)

	def kill9(self, pids=None):
		pids = pids if pids is not None else self.pids()
		self.stopped = True
		for pid in pids:
			try:
				os.kill(pid, signal.SIGKILL)
			except ProcessLookupError:
				pass
		if self.proc is not None:
			try:
				self.proc.wait(10)
			except subprocess.TimeoutExpired:
				pass
		wait_pids_gone(pids, 10)

	def log(self):
		try:
			return self.logpath.read_text(errors="replace")
		except FileNotFoundError:
			return ""

	def log_tail(self, n=4000):
		return self.log()[-n:]

	def sanitizer_report(self):
		"""New sanitizer findings in the server's stderr since the last call."""
		text = self.log()
		new = text[self.san_offset:]
		self.san_offset = len(text)
		hits = [new.find(m) for m in SAN_MARKERS if m in new]
		if hits:
			# The first finding with its stack, and the summary lines.
			at = max(0, min(hits) - 300)
			summary = [l for l in new.splitlines() if "SUMMARY:" in l]
			return new[at:at + 6000] + "\n...\n" + "\n".join(summary)
		return None

	def client(self, service="smtp", **kw):
		"""An SmtpClient connected to one of the services, trusting the
		instance's certificate; tls=True for implicit TLS (465)."""
		kw.setdefault("cafile", self.cert)
		if service == "submissions":
			kw.setdefault("tls", True)
		return SmtpClient(self.ports[service], **kw)

	# -- mail ---------------------------------------------------------
	def maildir(self, addr):
		local, domain = addr.rsplit("@", 1)
		return self.data / "mail" / domain / local

	def messages(self, addr):
		"""Every delivered message (new/ and cur/) as bytes, oldest first."""
		out = []
		md = self.maildir(addr)
		for sub in ("new", "cur"):
			d = md / sub
			if d.is_dir():
				for p in d.iterdir():
					if p.is_file():
						out.append((p.stat().st_mtime_ns, p.name, p.read_bytes()))
		out.sort()
		return [m for _, _, m in out]

	def find(self, addr, marker):
		"""Messages of addr containing marker (bytes or str)."""
		if isinstance(marker, str):
			marker = marker.encode()
		return [m for m in self.messages(addr) if marker in m]

	def find_anywhere(self, marker):
		"""Paths of messages in any Maildir or in the queue containing marker."""
		if isinstance(marker, str):
			marker = marker.encode()
		out = [p for p, m in self.all_messages() if marker in m]
		for p in self.queue_files():
			try:
				if marker in p.read_bytes():
					out.append(p)
			except OSError:
				pass
		return out

	def all_messages(self):
		"""(path, bytes) of every message in every Maildir."""
		out = []
		root = self.data / "mail"
		if root.is_dir():
			for p in root.rglob("*"):
				if p.is_file() and p.parent.name in ("new", "cur"):
					out.append((p, p.read_bytes()))
		return out

	def queue_files(self):
		q = self.data / "queue"
		return [p for p in q.rglob("*") if p.is_file()] if q.is_dir() else []

	def wait_messages(self, addr, n, timeout=5.0):
		"""Delivery is complete before 250, so this should not need to wait;
		the short grace only makes a failure message clearer."""
		deadline = time.monotonic() + timeout
		while True:
			msgs = self.messages(addr)
			if len(msgs) >= n or time.monotonic() > deadline:
				return msgs
			time.sleep(0.05)


def process_tree(pid):
	out = [pid]
	i = 0
	while i < len(out):
		p = out[i]
		i += 1
		try:
			for t in os.listdir("/proc/%d/task" % p):
				try:
					with open("/proc/%d/task/%s/children" % (p, t)) as f:
						for c in f.read().split():
							if int(c) not in out:
								out.append(int(c))
				except OSError:
					pass
		except OSError:
			pass
	return out


def proc_status(pid, field):
	"""A kB field of /proc/<pid>/status (VmRSS, VmHWM) in bytes, 0 if gone."""
	try:
		with open("/proc/%d/status" % pid) as f:
			for line in f:
				if line.startswith(field + ":"):
					return int(line.split()[1]) * 1024
	except OSError:
		pass
	return 0


def pid_alive(pid):
	try:
		with open("/proc/%d/stat" % pid) as f:
			st = f.read().rsplit(")", 1)[1].split()[0]
		return st not in ("Z", "X")
	except OSError:
		return False


def wait_pids_gone(pids, timeout):
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		if not any(pid_alive(p) for p in pids):
			return True
		time.sleep(0.05)
	return False


# -- SMTP client --------------------------------------------------------

ENH_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")


class Reply:
	def __init__(self, code, lines):
		self.code = code
		self.lines = lines		# texts after "NNN-" / "NNN "

	@property
	def text(self):
		return "\n".join(self.lines)

	@property
	def enhanced(self):
		"""The enhanced status code of the last line, e.g. "5.5.1", or None."""
		m = ENH_RE.match(self.lines[-1]) if self.lines else None
		return "%s.%s.%s" % m.groups() if m else None

	def keywords(self):
		"""EHLO keywords (upper case) -> parameter string."""
		out = {}
		for line in self.lines[1:]:
			parts = line.split(None, 1)
			if parts:
				out[parts[0].upper()] = parts[1] if len(parts) > 1 else ""
		return out

	def __repr__(self):
		return "Reply(%d, %r)" % (self.code, self.lines)

	def is_(self, code, enh=None):
		return self.code == code and (enh is None or self.enhanced == enh)


class Closed(Exception):
	pass


class SmtpClient:
	"""A deliberately dumb SMTP client: it sends exactly the bytes it is
	given and parses replies strictly (RFC 5321 4.2)."""

	def __init__(self, port, host="127.0.0.1", source=None, tls=False,
	    cafile=None, timeout=10.0, greet=True):
		self.timeout = timeout * SLOW
		self.cafile = cafile
		self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		self.sock.settimeout(self.timeout)
		if source:
			self.sock.bind((source, 0))
		self.sock.connect((host, port))
		self.buf = b""
		self.tls = False
		if tls:
			self._wrap()
		self.greeting = self.reply() if greet else None

	def context(self):
		ctx = ssl.create_default_context(cafile=self.cafile)
		return ctx

	def _wrap(self):
		self.sock = self.context().wrap_socket(self.sock, server_hostname=HOSTNAME)
		self.tls = True

	def send(self, data):
		if isinstance(data, str):
			data = data.encode("utf-8")
		self.sock.sendall(data)

	def _fill(self):
		try:
			chunk = self.sock.recv(65536)
		except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
			chunk = b""
		if not chunk:
			raise Closed("connection closed by server; pending %r" % self.buf)
		self.buf += chunk

	def readline(self):
		while b"\r\n" not in self.buf:
			if len(self.buf) > 65536:
				raise AssertionError("reply line too long or not CRLF: %r" % self.buf[:200])
			self._fill()
		line, self.buf = self.buf.split(b"\r\n", 1)
		return line

	def reply(self):
		lines = []
		code = None
		while True:
			raw = self.readline()
			s = raw.decode("utf-8", errors="replace")
			m = re.match(r"^(\d{3})([ -])(.*)$", s) or re.match(r"^(\d{3})()()$", s)
			if not m:
				raise AssertionError("malformed reply line %r (so far %r)" % (s, lines))
			c = int(m.group(1))
			if code is not None and c != code:
				raise AssertionError("code changed inside multi-line reply: %r" % s)
			code = c
			lines.append(m.group(3))
			if m.group(2) != "-":
				return Reply(code, lines)

	def cmd(self, line):
		self.send(line + "\r\n")
		return self.reply()

	def ehlo(self, name="client.example.org"):
		r = self.cmd("EHLO " + name)
		assert r.code == 250, r
		return r

	def starttls(self):
		r = self.cmd("STARTTLS")
		assert r.is_(220), r
		self._wrap()
		return r

	def auth_plain(self, user, password):
		tok = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
		return self.cmd("AUTH PLAIN " + tok)

	def mail_message(self, sender, rcpts, body, extra=""):
		"""MAIL, RCPT..., DATA, body (dot-stuffed here), end; returns the
		final reply. Asserts the envelope steps succeed."""
		r = self.cmd("MAIL FROM:<%s>%s" % (sender, extra))
		assert r.code == 250, r
		for rc in rcpts:
			r = self.cmd("RCPT TO:<%s>" % rc)
			assert r.code == 250, (rc, r)
		r = self.cmd("DATA")
		assert r.code == 354, r
		self.send(dot_stuff(body) + b".\r\n")
		return self.reply()

	def expect_closed(self, timeout=None):
		"""True when the server closes the connection (EOF) within timeout,
		after any pending bytes; returns the data received before EOF."""
		self.sock.settimeout((timeout or 5.0) * SLOW)
		data = self.buf
		self.buf = b""
		try:
			while True:
				try:
					c = self.sock.recv(65536)
				except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
					c = b""
				if not c:
					return data
				data += c
		except socket.timeout:
			raise AssertionError("connection still open; got %r" % data)
		finally:
			self.sock.settimeout(self.timeout)

	def nothing_pending(self, wait=0.5):
		"""Asserts no bytes arrive within wait seconds."""
		self.sock.settimeout(wait)
		try:
			if self.buf:
				return False
			try:
				c = self.sock.recv(65536)
			except socket.timeout:
				return True
			except ssl.SSLWantReadError:
				return True
			self.buf += c
			return False
		finally:
			self.sock.settimeout(self.timeout)

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass

	def quit(self):
		try:
			r = self.cmd("QUIT")
		finally:
			self.close()
		return r


def marker():
	"""A unique token to find one test's message among others."""
	return "mk-" + secrets.token_hex(8)


def simple_message(mark, sender="someone@example.org", to="alice@example.test",
    extra_headers="", body=None):
	"""A small RFC 5322 message (CRLF) carrying mark in Subject and body."""
	body = body if body is not None else "Hello %s.\r\nSecond line.\r\n" % mark
	return ("From: <%s>\r\nTo: <%s>\r\nSubject: test %s\r\n"
	    "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
	    "Message-ID: <%s@example.org>\r\n%s\r\n%s" % (
	    sender, to, mark, mark, extra_headers, body)).encode("utf-8")


def dot_stuff(body):
	"""CRLF-terminated body -> bytes with RFC 5321 4.5.2 transparency."""
	if isinstance(body, str):
		body = body.encode("utf-8")
	if not body.endswith(b"\r\n"):
		body += b"\r\n"
	out = []
	for line in body.split(b"\r\n")[:-1]:
		if line.startswith(b"."):
			line = b"." + line
		out.append(line + b"\r\n")
	return b"".join(out)


def split_trace(msg):
	"""Splits a stored message into (trace header lines, rest): the leading
	Return-Path/Received (and other trace) fields the server prepended."""
	trace = []
	rest = msg
	trace_names = (b"return-path:", b"received:", b"delivered-to:",
	    b"authentication-results:", b"x-original-to:")
	while True:
		low = rest[:40].lower()
		if not any(low.startswith(n) for n in trace_names):
			break
		end = rest.find(b"\r\n")
		while end != -1 and rest[end + 2:end + 3] in (b" ", b"\t"):
			end = rest.find(b"\r\n", end + 2)
		if end == -1:
			break
		trace.append(rest[:end + 2])
		rest = rest[end + 2:]
	return trace, rest


def header_fields(msg):
	"""{lower name: [values]} of the (unfolded) header of a message."""
	head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")
	head = re.sub(r"\r\n[ \t]+", " ", head)
	out = {}
	for line in head.split("\r\n"):
		if ":" in line:
			k, v = line.split(":", 1)
			out.setdefault(k.strip().lower(), []).append(v.strip())
	return out


# -- SCRAM-SHA-256 (RFC 5802, RFC 7677) ---------------------------------

def _b64(b):
	return base64.b64encode(b).decode()


def _saslname(s):
	return s.replace("=", "=3D").replace(",", "=2C")


class ScramClient:
	"""The client side of SCRAM-SHA-256 without channel binding (gs2 "n,,")."""

	def __init__(self, user, password, nonce=None):
		self.user = user
		self.password = password
		self.cnonce = nonce or _b64(secrets.token_bytes(18))
		self.server_signature = None

	def first(self):
		self.bare = "n=%s,r=%s" % (_saslname(self.user), self.cnonce)
		return "n,," + self.bare

	def final(self, server_first):
		attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
		nonce, salt, iters = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
		if not nonce.startswith(self.cnonce) or len(nonce) <= len(self.cnonce):
			raise AssertionError("server nonce does not extend ours: %r" % nonce)
		if iters < 4096:
			raise AssertionError("iteration count %d < 4096 (RFC 7677)" % iters)
		salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, iters)
		client_key = hmac.new(salted, b"Client Key", "sha256").digest()
		stored_key = hashlib.sha256(client_key).digest()
		without_proof = "c=%s,r=%s" % (_b64(b"n,,"), nonce)
		auth_msg = ",".join((self.bare, server_first, without_proof)).encode()
		client_sig = hmac.new(stored_key, auth_msg, "sha256").digest()
		proof = bytes(a ^ b for a, b in zip(client_key, client_sig))
		server_key = hmac.new(salted, b"Server Key", "sha256").digest()
		self.server_signature = hmac.new(server_key, auth_msg, "sha256").digest()
		return without_proof + ",p=" + _b64(proof)

	def verify(self, server_final):
		attrs = dict(kv.split("=", 1) for kv in server_final.split(","))
		if "e" in attrs:	# RFC 5802 server-error: a failure, not a bug
			return False
		return base64.b64decode(attrs["v"]) == self.server_signature


def smtp_auth_scram(c, user, password, corrupt_proof=False):
	"""Runs AUTH SCRAM-SHA-256 on SmtpClient c; returns (final reply,
	server signature verified?)."""
	sc = ScramClient(user, password)
	r = c.cmd("AUTH SCRAM-SHA-256 " + _b64(sc.first().encode()))
	if r.code != 334:
		return r, False
	server_first = base64.b64decode(r.lines[0]).decode()
	final = sc.final(server_first)
	if corrupt_proof:
		# A well-formed proof of the right length, one bit wrong.
		head, proof = final.rsplit(",p=", 1)
		raw = bytearray(base64.b64decode(proof))
		raw[0] ^= 1
		final = head + ",p=" + _b64(bytes(raw))
	r = c.cmd(_b64(final.encode()))
	verified = False
	if r.code == 334:
		# RFC 4954: server-final as a challenge, the client answers empty.
		verified = sc.verify(base64.b64decode(r.lines[0]).decode())
		r = c.cmd("")
	# A bare 235 leaves verified False: RFC 4954 4 carries the server's
	# additional data (here v=ServerSignature) in a 334 challenge, and the
	# client must see it to know the server holds the password's keys.
	return r, verified


# -- dialogue scripts (.dlg) ----------------------------------------------

def unescape(s):
	"""C-like escapes in a `>>` raw line: \\r \\n \\t \\\\ \\xNN."""
	out = bytearray()
	i = 0
	b = s.encode("utf-8")
	while i < len(b):
		c = b[i:i + 1]
		if c == b"\\" and i + 1 < len(b):
			n = b[i + 1:i + 2]
			if n == b"r":
				out += b"\r"; i += 2; continue
			if n == b"n":
				out += b"\n"; i += 2; continue
			if n == b"t":
				out += b"\t"; i += 2; continue
			if n == b"\\":
				out += b"\\"; i += 2; continue
			if n == b"x":
				out.append(int(b[i + 2:i + 4], 16)); i += 4; continue
		out += c
		i += 1
	return bytes(out)


# -- pytest fixtures (imported by tests/protocol and tests/interop conftests) --

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
_live = []		# every running Instance, for the per-test sanitizer check
_dns = {"server": None, "users": 0}


def _build_dir():
	env = os.environ.get("SEALPOST_BUILD")
	if env:
		b = Path(env)
		for exe in ("sealpostd", "sealpost"):
			if not os.access(b / exe, os.X_OK):
				pytest.fail("SEALPOST_BUILD=%s has no executable %s" % (b, exe))
		return b
	b = REPO / "build"
	if not (os.access(b / "sealpostd", os.X_OK) and os.access(b / "sealpost", os.X_OK)):
		pytest.skip("no sealpost build (set SEALPOST_BUILD or run `make build`)")
	return b


@pytest.fixture(scope="session")
def sealpost_build():
	return _build_dir()


@pytest.fixture(scope="session")
def dns_server(tmp_path_factory):
	"""One dnsmasq for the whole test session, shared by both suites."""
	if _dns["server"] is None:
		_dns["server"] = DnsServer(tmp_path_factory.mktemp("dns")).start()
	_dns["users"] += 1
	yield _dns["server"]
	_dns["users"] -= 1
	if _dns["users"] == 0:
		_dns["server"].stop()
		_dns["server"] = None


class Factory:
	def __init__(self, build, dns, tmp_path_factory):
		self.build = build
		self.dns = dns
		self.tmp = tmp_path_factory
		self.made = []

	def __call__(self, overrides=None, start=True, users=True, name="inst"):
		d = make_instance_dir()
		inst = Instance(self.build, d / name, self.dns.port, overrides, users)
		inst.create()
		self.made.append(inst)
		_live.append(inst)
		if start:
			inst.start()
		return inst

	def finish(self):
		"""Stops every instance; returns the problems found (a server that
		died on its own, SIGTERM exit status not 0, sanitizer reports)."""
		problems = []
		for inst in self.made:
			was_running = inst.running()
			if inst.proc is not None and not was_running and not inst.stopped:
				problems.append("sealpostd in %s died on its own with status %r\n%s"
				    % (inst.dir, inst.proc.returncode, inst.log_tail()))
			st = inst.stop()
			if was_running and st != 0:
				problems.append("sealpostd in %s: SIGTERM exit status %r, expected 0\n%s"
				    % (inst.dir, st, inst.log_tail()))
			rep = inst.sanitizer_report()
			if rep:
				problems.append("sanitizer report from sealpostd in %s:\n%s" % (inst.dir, rep))
			if inst in _live:
				_live.remove(inst)
			if not os.environ.get("SEALPOST_KEEP"):
				import shutil
				shutil.rmtree(inst.dir.parent, ignore_errors=True)
		return problems


@pytest.fixture
def make_instance(sealpost_build, dns_server, tmp_path_factory):
	"""Factory for instances private to one test: make_instance({key: val})."""
	f = Factory(sealpost_build, dns_server, tmp_path_factory)
	yield f
	problems = f.finish()
	if problems:
		pytest.fail("\n\n".join(problems))


@pytest.fixture(scope="module")
def module_factory(sealpost_build, dns_server, tmp_path_factory):
	f = Factory(sealpost_build, dns_server, tmp_path_factory)
	yield f
	problems = f.finish()
	if problems:
		pytest.fail("\n\n".join(problems))


@pytest.fixture(scope="module")
def inst(module_factory):
	"""The default instance shared by the tests of one module."""
	return module_factory(name="shared")


@pytest.fixture(autouse=True)
def sanitizer_check():
	"""After each test: fail on any new ASan/UBSan/LSan report in the
	stderr of a running server, or on a server that died on its own."""
	yield
	reports = []
	for inst in list(_live):
		rep = inst.sanitizer_report()
		if rep:
			reports.append("sanitizer report from sealpostd in %s:\n%s" % (inst.dir, rep))
		if inst.proc is not None and not inst.running() and not inst.stopped:
			inst.stopped = True	# report once
			reports.append("sealpostd in %s died with status %r:\n%s" % (
			    inst.dir, inst.proc.returncode, inst.log_tail()))
	if reports:
		pytest.fail("\n\n".join(reports))
