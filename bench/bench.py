#!/usr/bin/python3
"""sealpost benchmark, side by side with Postfix and Dovecot (issue 7).

`make bench` runs this. It installs the anchors from Debian (postfix,
dovecot-core, dovecot-pop3d) without starting any system service, builds the
C load generator bench/smtp_load.c, and starts in a fresh directory under
$BENCH_DIR (default /var/tmp, on disk by the FHS; /tmp may be a tmpfs,
where fsync costs nothing and durability would not be measured), all on
127.0.0.1 ports chosen free at run time:

  - dnsmasq, the hermetic DNS server of the test suite (no query ever goes
    to the machine's resolver);
  - a sealpost instance (`sealpost init`, 50 accounts box01..box50);
  - a private Postfix instance (`postfix -c DIR start`, its own main.cf and
    master.cf, virtual(8) Maildir delivery for the same 50 addresses, TLS
    offered with the same certificate);
  - a private Dovecot (`dovecot -c FILE`, POP3 + POP3S over Postfix's
    Maildirs, the same accounts with SHA512-CRYPT passwords).

It then runs the workloads alternately against both servers, several
repetitions, and prints a table of medians (min-max) and the ratio
sealpost/Postfix; writes JSON to bench/results/ and the table with the
command and machine facts into docs/performance.md (between markers).

Environment: BENCH_FULL=1 for the full matrix (slow), BENCH_REPS=N,
BENCH_KEEP=1 to keep the work directory, BENCH_SKIP_SMTP=1 /
BENCH_SKIP_IDLE=1 /
BENCH_SKIP_SUBMISSION=1 / BENCH_SKIP_POP3=1 to leave out those workloads (for debugging), BENCH_NO_DOCS=1 to leave
docs/performance.md alone, BENCH_SMOKE=1 for the tiny sealpost-only run
that `make test` uses (asserts nothing about speed).

Every process this starts is stopped by PID (or `postfix -c DIR stop`,
`dovecot -c FILE stop`) at the end.
"""

import json
import os
import platform
import pwd
import resource
import grp
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "protocol"))
import sealpost_harness as H  # noqa: E402

BUILD = Path(os.environ.get("SEALPOST_BUILD", ROOT / "build")).resolve()
FULL = os.environ.get("BENCH_FULL") == "1"
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
REPS = int(os.environ.get("BENCH_REPS", "5" if FULL else "3"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
BENCH_DIR = os.environ.get("BENCH_DIR", "/var/tmp")
BOXES = 50
DOMAIN = H.DOMAIN
SENDER = "bench@example.org"	# a domain the fake DNS knows (MX, A, SPF)
PASSWORD = "bench-Secret-1"
PACKAGES = ["postfix", "dovecot-core", "dovecot-pop3d", "dnsmasq-base", "gcc",
    "openssl"]


def log(msg):
	print("bench: " + msg, file=sys.stderr, flush=True)


def boxes():
	return ["box%02d@%s" % (i, DOMAIN) for i in range(1, BOXES + 1)]


# -- installation --------------------------------------------------------

def ensure_packages(pkgs):
	missing = []
	for p in pkgs:
		r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p],
		    capture_output=True, text=True)
		if "ok installed" not in r.stdout:
			missing.append(p)
	if not missing:
		return
	log("installing " + " ".join(missing))
	# No system Postfix: "No configuration" leaves /etc/postfix/main.cf
	# absent, so the package starts nothing on port 25.
	sel = ("postfix postfix/main_mailer_type select No configuration\n"
	    "postfix postfix/mailname string bench.invalid\n")
	subprocess.run(["debconf-set-selections"], input=sel, text=True, check=True)
	env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
	subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
	subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
	    + missing, env=env, check=True)


def build_loadgen():
	out = BUILD / "bench" / "smtp_load"
	out.parent.mkdir(parents=True, exist_ok=True)
	src = ROOT / "bench" / "smtp_load.c"
	if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
		subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-pthread", "-o",
		    str(out), str(src)], check=True)
	return out


# -- machine facts -------------------------------------------------------

def cpu_jiffies():
	"""(busy, steal, total) jiffies of all CPUs from /proc/stat."""
	f = open("/proc/stat").readline().split()[1:]
	v = [int(x) for x in f]
	idle = v[3] + v[4]
	steal = v[7] if len(v) > 7 else 0
	total = sum(v[:8])
	return total - idle, steal, total


def machine_facts(workdir):
	facts = {"cores": os.cpu_count(), "kernel": platform.release(),
	    "loadavg_at_start": os.getloadavg()}
	try:
		for line in open("/proc/cpuinfo"):
			if line.startswith("model name"):
				facts["cpu"] = line.split(":", 1)[1].strip()
				break
		for line in open("/proc/meminfo"):
			if line.startswith("MemTotal"):
				facts["mem_mib"] = int(line.split()[1]) // 1024
	except OSError:
		pass
	r = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "-T",
	    str(workdir)], capture_output=True, text=True)
	facts["filesystem"] = r.stdout.strip()
	src = r.stdout.split()[0] if r.stdout.split() else ""
	dev = os.path.basename(src)
	rot = Path("/sys/block/%s/queue/rotational" % dev)
	if rot.exists():
		facts["disk_rotational"] = rot.read_text().strip() == "1"
	model = Path("/sys/block/%s/device/model" % dev)
	if model.exists():
		facts["disk_model"] = model.read_text().strip()
	facts["disk_device"] = src
	facts["directory"] = str(workdir.parent)
	return facts


# -- processes -----------------------------------------------------------

def pss_kib(pids):
	total = 0
	for pid in pids:
		try:
			for line in open("/proc/%d/smaps_rollup" % pid):
				if line.startswith("Pss:"):
					total += int(line.split()[1])
					break
		except OSError:
			pass
	return total


def wait_port(port, timeout=20):
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		try:
			s = socket.create_connection(("127.0.0.1", port), timeout=2)
			line = s.makefile("rb").readline()
			s.close()
			if line[:1] in (b"2", b"+"):
				return
		except OSError:
			pass
		time.sleep(0.1)
	raise RuntimeError("nothing answers on port %d" % port)


def free_port():
	for _ in range(500):
		p = H.random.randrange(20000, 60000)
		if H.port_is_free(p):
			return p
	raise RuntimeError("no free port")


# -- the systems under test -----------------------------------------------

class BenchDns(H.DnsServer):
	"""The test suite's dnsmasq, with records as a real sender domain
	publishes them: a TTL (dnsmasq's local records have TTL 0 unless told,
	which no real zone uses) and a DMARC policy next to the SPF record.
	Queries are not logged (a log line per query would cost dnsmasq more
	CPU than answering)."""

	def args(self):
		a = [x for x in super().args() if x != "--log-queries"]
		return a + ["--local-ttl=300",
		    "--txt-record=_dmarc.example.org,v=DMARC1; p=none"]


class Sealpost:
	name = "sealpost"

	def __init__(self, workdir, dns_port):
		self.inst = H.Instance(BUILD, workdir / "sealpost", dns_port,
		    overrides={
			# The idle-connection workload opens 10,000 sessions from
			# 127.0.0.1; the defaults (10000 / 50 per IP) would refuse.
			"max_sessions": "20000",
			"max_sessions_per_ip": "20000",
		    }, users=False)

	def setup(self):
		self.inst.create()
		for a in boxes():
			self.inst.cli("user", "add", a, "--password-stdin",
			    input=(PASSWORD + "\n").encode())
		self.inst.start()
		self.port = self.inst.smtp
		return self

	def maildir_new(self, addr):
		return self.inst.maildir(addr) / "new"

	def pids(self):
		return self.inst.pids()

	def settle(self):
		pass

	def stop(self):
		self.inst.stop()


POSTFIX_MASTER = """\
# Private bench instance: no chroot, smtpd on a loopback port.
{listen} inet n - n - 2000 smtpd
{sublisten} inet n - n - 2000 smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path=private/auth
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

POSTFIX_MAIN = """\
# Private bench instance (bench/bench.py). Defaults everywhere except what a
# private loopback instance needs, and: smtpd process limit 2000 (master.cf)
# and no per-client connection limit, so that 200 sessions and the idle
# workload from 127.0.0.1 are not capped by anvil.
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.bench.test
mydomain = bench.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.2/32
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtpd_client_connection_count_limit = 0
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{conf}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 100
message_size_limit = 52428800
virtual_mailbox_limit = 0
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
maillog_file = {logfile}
maillog_file_prefixes = {dir}
"""


class Postfix:
	name = "postfix"

	def __init__(self, workdir, cert, key):
		self.dir = workdir / "postfix"
		self.conf = self.dir / "etc"
		self.spool = self.dir / "spool"
		self.mail = self.dir / "mail"
		self.cert, self.key = cert, key
		self.started = False

	def setup(self):
		nobody = pwd.getpwnam("nobody")
		for d in (self.conf, self.spool, self.dir / "data", self.mail):
			d.mkdir(parents=True, exist_ok=True)
		os.chmod(self.dir, 0o755)
		os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
		pfu = pwd.getpwnam("postfix")
		os.chown(self.dir / "data", pfu.pw_uid, pfu.pw_gid)
		self.port = free_port()
		self.sub_port = free_port()
		(self.conf / "master.cf").write_text(POSTFIX_MASTER.format(
		    listen="127.0.0.1:%d" % self.port,
		    sublisten="127.0.0.1:%d" % self.sub_port))
		(self.conf / "main.cf").write_text(POSTFIX_MAIN.format(
		    spool=self.spool, data=self.dir / "data", domain=DOMAIN,
		    mail=self.mail, conf=self.conf, uid=nobody.pw_uid,
		    gid=nobody.pw_gid, cert=self.cert, key=self.key,
		    logfile=self.dir / "postfix.log", dir=self.dir))
		(self.conf / "vmailbox").write_text("".join(
		    "%s %s/%s/\n" % (a, DOMAIN, a.split("@")[0]) for a in boxes()))
		# (postfix reports to a terminal or its log only; run it under
		# script(1) to see why when this fails)
		r = subprocess.run(["postfix", "-c", str(self.conf), "check"],
		    capture_output=True, text=True)
		if r.returncode != 0:
			raise RuntimeError("postfix check failed: " + r.stdout + r.stderr)
		with open(self.dir / "start.log", "w") as out:
			r = subprocess.run(["postfix", "-c", str(self.conf), "start"],
			    stdout=out, stderr=out, stdin=subprocess.DEVNULL)
		if r.returncode != 0:
			raise RuntimeError("postfix start failed, see " +
			    str(self.dir / "postfix.log"))
		self.started = True
		wait_port(self.port)
		return self

	def maildir_new(self, addr):
		return self.mail / DOMAIN / addr.split("@")[0] / "new"

	def master_pid(self):
		try:
			return int((self.spool / "pid" / "master.pid").read_text().split()[0])
		except (OSError, ValueError, IndexError):
			return None

	def pids(self):
		pid = self.master_pid()
		return H.process_tree(pid) if pid else []

	def queue_count(self):
		n = 0
		for sub in ("incoming", "active", "deferred", "maildrop"):
			for _, _, files in os.walk(self.spool / sub):
				n += len(files)
		return n

	def settle(self, timeout=120):
		"""Waits until Postfix's queue is empty (every message delivered)."""
		deadline = time.monotonic() + timeout
		while self.queue_count() and time.monotonic() < deadline:
			time.sleep(0.05)

	def stop(self):
		if self.started:
			subprocess.run(["postfix", "-c", str(self.conf), "stop"],
			    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
			self.started = False


DOVECOT_CONF = """\
# Private bench instance (bench/bench.py): POP3 over Postfix's Maildirs.
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
instance_name = sealpost-bench-{port}
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:{mail}/%d/%n
first_valid_uid = 100
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail}/%d/%n
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {port_s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
# Postfix's submission service authenticates through Dovecot (SASL).
service auth {{
  unix_listener {pf_spool}/private/auth {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""


class Dovecot:
	name = "dovecot"

	def __init__(self, workdir, mail, cert, key, pf_spool):
		self.dir = workdir / "dovecot"
		self.pf_spool = pf_spool
		self.mail, self.cert, self.key = mail, cert, key
		self.conf = self.dir / "dovecot.conf"
		self.started = False

	def setup(self):
		nobody = pwd.getpwnam("nobody")
		self.dir.mkdir(parents=True, exist_ok=True)
		os.chmod(self.dir, 0o755)
		self.port, self.port_s = free_port(), free_port()
		h = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
		    input=PASSWORD + "\n", capture_output=True, text=True,
		    check=True).stdout.strip()
		(self.dir / "passwd").write_text("".join(
		    "%s:{SHA512-CRYPT}%s\n" % (a, h) for a in boxes()))
		self.conf.write_text(DOVECOT_CONF.format(dir=self.dir,
		    port=self.port, port_s=self.port_s, cert=self.cert,
		    key=self.key, mail=self.mail, uid=nobody.pw_uid,
		    gid=nobody.pw_gid, pf_spool=self.pf_spool))
		# Output to a file, not a pipe: the daemonised master would hold
		# a pipe open and run() would wait for it forever.
		with open(self.dir / "start.log", "w") as out:
			r = subprocess.run(["dovecot", "-c", str(self.conf)],
			    stdout=out, stderr=out, stdin=subprocess.DEVNULL)
		if r.returncode != 0:
			raise RuntimeError("dovecot: " +
			    (self.dir / "start.log").read_text())
		self.started = True
		wait_port(self.port)
		return self

	def pids(self):
		try:
			pid = int((self.dir / "run" / "master.pid").read_text().split()[0])
		except (OSError, ValueError, IndexError):
			return []
		return H.process_tree(pid)

	def stop(self):
		if self.started:
			subprocess.run(["dovecot", "-c", str(self.conf), "stop"],
			    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
			self.started = False


# -- workload 1: SMTP inbound ---------------------------------------------

def count_new(server):
	n = 0
	for a in boxes():
		try:
			n += sum(1 for _ in os.scandir(server.maildir_new(a)))
		except FileNotFoundError:
			pass
	return n


ARCHIVE = None	# set by main(): <workdir>/archive


def clear_maildirs(server):
	"""Empties the Maildirs of the previous run by moving the files into
	an archive directory (removed with the work directory at the end), then
	writes everything out (sync) and lets the flusher go idle, so that no
	run is timed while the kernel writes back what an earlier run left
	dirty. Moved, not deleted: ext4 without a journal (this VM's) skips
	every inode freed in the last dirty_expire_centisecs (30 s) when it
	allocates one, reading each from the inode table, so thousands of
	files deleted just before a run make every file creation during it
	slow, and the faster server pays more of that fixed cost."""
	dest = ARCHIVE / server.name
	dest.mkdir(parents=True, exist_ok=True)
	for a in boxes():
		d = server.maildir_new(a)
		try:
			for e in os.scandir(d):
				os.rename(e.path, dest / e.name)
		except FileNotFoundError:
			pass
	os.sync()
	time.sleep(0.5)


def run_smtp(loadgen, server, size, conc, batch, n):
	server.settle()
	clear_maildirs(server)
	j0 = cpu_jiffies()
	t0 = time.monotonic()
	r = subprocess.run([str(loadgen), "-p", str(server.port), "-n", str(n),
	    "-c", str(conc), "-s", str(size), "-b", str(batch), "-m", str(BOXES),
	    "-d", DOMAIN, "-f", SENDER], capture_output=True, text=True,
	    timeout=1800)
	res = json.loads(r.stdout.strip().splitlines()[-1])
	# Delivered: every accepted message is a file in a Maildir's new/.
	deadline = time.monotonic() + 120
	while count_new(server) < res["accepted"] and time.monotonic() < deadline:
		time.sleep(0.01)
	t1 = time.monotonic()
	j1 = cpu_jiffies()
	res["delivered"] = count_new(server)
	res["delivered_seconds"] = round(t1 - t0, 4)
	res["delivered_per_s"] = round(res["delivered"] / (t1 - t0), 2)
	busy, steal, total = (b - a for a, b in zip(j0, j1))
	res["machine_cpu_busy"] = round(busy / total, 4) if total else None
	res["steal_share"] = round(steal / total, 4) if total else None
	if res["failed"]:
		log("%s: %d failed (%s)" % (server.name, res["failed"],
		    res["first_error"]))
	return res


def smtp_matrix():
	if os.environ.get("BENCH_SKIP_SMTP") == "1":
		return []
	if SMOKE:
		return [(4, 2, 1, 20), (4, 2, 10, 20)]
	m = [(4, 1, 1, 1000), (4, 50, 1, 2000)]
	if FULL:
		m = [(4, 1, 1, 2000), (4, 10, 1, 5000), (4, 50, 1, 5000),
		    (4, 200, 1, 5000), (4, 50, 10, 5000),
		    (100, 1, 1, 1000), (100, 10, 1, 5000), (100, 50, 1, 5000),
		    (100, 200, 1, 5000), (100, 50, 10, 5000)]
	return m


# -- workload 3: POP3 -------------------------------------------------------

class RawPop:
	"""A minimal POP3 client that reads multi-line replies in large chunks
	(poplib reads line by line and would be the bottleneck)."""

	def __init__(self, port, mode, cafile):
		self.ctx = ssl.create_default_context(cafile=cafile)
		self.ctx.check_hostname = False
		s = socket.create_connection(("127.0.0.1", port), timeout=30)
		s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
		if mode == "pop3s":
			s = self.ctx.wrap_socket(s)
		self.s = s
		self.buf = bytearray()
		self.status()
		if mode == "stls":
			self.cmd(b"STLS")
			self.s = self.ctx.wrap_socket(self.s)
			self.buf = bytearray()

	def fill(self):
		b = self.s.recv(262144)
		if not b:
			raise OSError("POP3 server closed the connection")
		self.buf += b

	def status(self):
		while b"\r\n" not in self.buf:
			self.fill()
		i = self.buf.index(b"\r\n")
		line = bytes(self.buf[:i])
		del self.buf[:i + 2]
		if not line.startswith(b"+OK"):
			raise OSError("POP3: %r" % line[:200])
		return line

	def cmd(self, c):
		self.s.sendall(c + b"\r\n")
		return self.status()

	def multiline(self):
		"""Consumes the body of a multi-line reply; returns its length in
		bytes. Scans only new data, so the client stays cheap."""
		if self.buf.startswith(b".\r\n"):
			del self.buf[:3]
			return 3
		pos = 0
		while True:
			i = self.buf.find(b"\r\n.\r\n", max(0, pos - 4))
			if i >= 0:
				del self.buf[:i + 5]
				return i + 5
			pos = len(self.buf)
			self.fill()

	def login(self, user, pw):
		self.cmd(b"USER " + user.encode())
		self.cmd(b"PASS " + pw.encode())

	def close(self):
		try:
			self.cmd(b"QUIT")
		finally:
			self.s.close()


def pop_worker(port, mode, cafile, user, kind, start, seconds):
	"""One client process (`bench.py --pop-worker ...`): waits until the
	common start time, repeats sessions for `seconds`, prints JSON."""
	while time.time() < start:
		time.sleep(0.005)
	t0 = time.monotonic()
	stop = t0 + seconds
	sessions = nbytes = 0
	lat = []
	while time.monotonic() < stop:
		t1 = time.monotonic()
		p = RawPop(port, mode, cafile)
		p.login(user, PASSWORD)
		n = int(p.cmd(b"STAT").split()[1])
		if kind == "retr":
			for i in range(1, n + 1):
				p.s.sendall(b"RETR %d\r\n" % i)
				p.status()
				nbytes += p.multiline()
		p.close()
		sessions += 1
		lat.append(time.monotonic() - t1)
	ru = resource.getrusage(resource.RUSAGE_SELF)
	print(json.dumps({"sessions": sessions, "bytes": nbytes, "lat": lat,
	    "seconds": time.monotonic() - t0,
	    "cpu": ru.ru_utime + ru.ru_stime}))


def run_pop(name, port, mode, cafile, kind, conc, seconds, nboxes=BOXES):
	"""conc client processes (separate interpreters: no GIL, no fork of a
	threaded parent), started together."""
	users = boxes()
	start = time.time() + 0.5 + 0.02 * conc
	procs = [subprocess.Popen([sys.executable, __file__, "--pop-worker",
	    str(port), mode, cafile, users[k % nboxes], kind, repr(start),
	    str(seconds)], stdout=subprocess.PIPE, text=True)
	    for k in range(conc)]
	while time.time() < start:
		time.sleep(0.005)
	j0 = cpu_jiffies()
	outs = []
	for p in procs:
		out, _ = p.communicate(timeout=seconds + 120)
		if p.returncode != 0:
			raise RuntimeError("POP3 client failed against %s" % name)
		outs.append(json.loads(out))
	j1 = cpu_jiffies()
	el = max(o["seconds"] for o in outs)
	sessions = sum(o["sessions"] for o in outs)
	nbytes = sum(o["bytes"] for o in outs)
	lat = sorted(x for o in outs for x in o["lat"])
	return {"server": name, "mode": mode, "kind": kind, "concurrency": conc,
	    "seconds": round(el, 3), "sessions": sessions,
	    "sessions_per_s": round(sessions / el, 2),
	    "mb_per_s": round(nbytes / el / 1e6, 2),
	    "session_p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
	    "client_cpu_share": round(sum(o["cpu"] for o in outs) / el, 3),
	    "machine_cpu_busy": round((j1[0] - j0[0]) / (j1[2] - j0[2]), 4)
		if j1[2] > j0[2] else None}


def fill_maildrops(loadgen, server, per_box, nboxes):
	"""per_box messages of 100 KiB into each of box01..box<nboxes>."""
	server.settle()
	for a in boxes():
		for sub in ("new", "cur"):
			d = server.maildir_new(a).parent / sub
			try:
				for e in os.scandir(d):
					if e.is_file():
						os.unlink(e.path)
			except FileNotFoundError:
				pass
	r = subprocess.run([str(loadgen), "-p", str(server.port), "-n",
	    str(per_box * nboxes), "-c", "10", "-s", "100", "-m", str(nboxes),
	    "-d", DOMAIN, "-f", SENDER], capture_output=True, text=True,
	    timeout=1800)
	res = json.loads(r.stdout.strip().splitlines()[-1])
	deadline = time.monotonic() + 300
	while count_new(server) < res["accepted"] and time.monotonic() < deadline:
		time.sleep(0.05)
	server.settle()
	return res["accepted"]


def pop_matrix():
	"""(workloads, seconds per run, messages per maildrop, maildrops).
	Maildrops of 100 x 100 KiB as issue 7 says, so that one RETR-all
	session moves 10 MB and the login does not dominate it; client k
	uses maildrop k, so the quick mode fills only the 10 it uses."""
	if FULL:
		return [(k, m, c) for k in ("login", "retr")
		    for m in ("stls", "pop3s") for c in (1, 10, 50)], 10, 100, 50
	return [("login", "stls", 10), ("login", "pop3s", 10),
	    ("retr", "stls", 10), ("retr", "pop3s", 10)], 5, 100, 10


# -- workload 2: submission ------------------------------------------------

def sub_worker(port, cafile, user, start, seconds):
	"""One submission client process: STARTTLS + AUTH PLAIN + one 4 KiB
	message to its own mailbox + QUIT, repeated; prints JSON."""
	import smtplib
	ctx = ssl.create_default_context(cafile=cafile)
	ctx.check_hostname = False
	line = "x" * 76 + "\r\n"
	msg = ("From: <%s>\r\nTo: <%s>\r\nSubject: submission bench\r\n"
	    "Date: Sat, 28 Nov 2026 20:00:00 +0000\r\n"
	    "Message-ID: <%%d.%d@example.test>\r\n\r\n" % (user, user, os.getpid())
	    + line * 52)
	while time.time() < start:
		time.sleep(0.005)
	t0 = time.monotonic()
	stop = t0 + seconds
	n = 0
	lat = []
	while time.monotonic() < stop:
		t1 = time.monotonic()
		s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test",
		    timeout=30)
		s.starttls(context=ctx)
		s.login(user, PASSWORD)
		s.sendmail(user, [user], (msg % n).encode())
		s.quit()
		n += 1
		lat.append(time.monotonic() - t1)
	ru = resource.getrusage(resource.RUSAGE_SELF)
	print(json.dumps({"sessions": n, "lat": lat,
	    "seconds": time.monotonic() - t0, "cpu": ru.ru_utime + ru.ru_stime}))


def run_submission(server, port, cafile, conc, seconds):
	server.settle()
	clear_maildirs(server)
	users = boxes()
	start = time.time() + 0.5 + 0.02 * conc
	procs = [subprocess.Popen([sys.executable, __file__, "--sub-worker",
	    str(port), cafile, users[k % BOXES], repr(start), str(seconds)],
	    stdout=subprocess.PIPE, text=True) for k in range(conc)]
	while time.time() < start:
		time.sleep(0.005)
	t0 = time.monotonic()
	outs = []
	for p in procs:
		out, _ = p.communicate(timeout=seconds + 120)
		if p.returncode != 0:
			raise RuntimeError("submission client failed against %s" %
			    server.name)
		outs.append(json.loads(out))
	el = max(o["seconds"] for o in outs)
	sent = sum(o["sessions"] for o in outs)
	deadline = time.monotonic() + 120
	while count_new(server) < sent and time.monotonic() < deadline:
		time.sleep(0.01)
	delivered_el = time.monotonic() - t0
	lat = sorted(x for o in outs for x in o["lat"])
	return {"server": server.name, "concurrency": conc, "sessions": sent,
	    "seconds": round(el, 3), "accepted_per_s": round(sent / el, 2),
	    "delivered": count_new(server),
	    "delivered_per_s": round(count_new(server) / delivered_el, 2),
	    "session_p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
	    "session_p99_ms": round(1000 * lat[min(len(lat) - 1,
		int(0.99 * (len(lat) - 1) + 0.5))], 2) if lat else None,
	    "client_cpu_share": round(sum(o["cpu"] for o in outs) / el, 3)}


# -- workload 4: idle connections -----------------------------------------

def run_idle(loadgen, server, n):
	base = pss_kib(server.pids())
	p = subprocess.Popen([str(loadgen), "-p", str(server.port), "-I", str(n),
	    "-t", "5"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
	res = json.loads(p.stdout.readline())
	time.sleep(1.0)
	pids = server.pids()
	res["server_processes"] = len(pids)
	res["pss_kib_before"] = base
	res["pss_kib"] = pss_kib(pids)
	res["bytes_per_conn"] = (round(res["pss_kib"] * 1024 / res["held"])
	    if res["held"] else None)
	# What each connection adds, without the server's fixed footprint.
	res["marginal_bytes_per_conn"] = (round((res["pss_kib"] - base) * 1024 /
	    res["held"]) if res["held"] else None)
	p.stdin.close()
	p.wait(60)
	time.sleep(1.0)
	res["pss_kib_after"] = pss_kib(server.pids())
	return res


# -- workload 5: physical limits ------------------------------------------

def fsync_rate(directory, threads, seconds=3.0):
	"""Durable Maildir deliveries per second: create in tmp/, write 4 KiB,
	fsync, rename into new/, fsync new/."""
	tmp, new = directory / "tmp", directory / "new"
	tmp.mkdir(parents=True, exist_ok=True)
	new.mkdir(parents=True, exist_ok=True)
	data = b"x" * 4096
	count = [0] * threads
	stop = time.monotonic() + seconds

	def loop(k):
		dfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
		i = 0
		while time.monotonic() < stop:
			name = "%d.%d.%d" % (os.getpid(), k, i)
			fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
			os.write(fd, data)
			os.fsync(fd)
			os.close(fd)
			os.rename(tmp / name, new / name)
			os.fsync(dfd)
			i += 1
		count[k] = i
		os.close(dfd)

	ts = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
	t0 = time.monotonic()
	for t in ts:
		t.start()
	for t in ts:
		t.join()
	el = time.monotonic() - t0
	shutil.rmtree(directory)
	return round(sum(count) / el, 1)


def hash_costs(sealpost_users):
	"""Milliseconds per password verification: sealpost's stored hash (the
	first line of its users file) and SHA512-CRYPT as Dovecot uses it;
	through libcrypt (python's crypt module), single-threaded."""
	import warnings
	with warnings.catch_warnings():
		warnings.simplefilter("ignore")
		import crypt
	out = {}
	ours = sealpost_users.read_text().split("\n", 1)[0].split("\t")[1]
	sha = crypt.crypt("pw", crypt.mksalt(crypt.METHOD_SHA512))
	for name, h, n in (("sealpost_hash_ms", ours, 20),
	    ("sha512_crypt_ms", sha, 100)):
		t0 = time.perf_counter()
		for _ in range(n):
			crypt.crypt("pw", h)
		out[name] = round((time.perf_counter() - t0) / n * 1000, 2)
	out["sealpost_hash_prefix"] = ours[:7]
	return out


def loopback_bandwidth(seconds=2.0):
	"""MB/s through one loopback TCP connection (python, so a lower bound)."""
	srv = socket.socket()
	srv.bind(("127.0.0.1", 0))
	srv.listen(1)
	got = [0]

	def sink():
		c, _ = srv.accept()
		while True:
			b = c.recv(1 << 20)
			if not b:
				break
			got[0] += len(b)
		c.close()

	t = threading.Thread(target=sink)
	t.start()
	c = socket.create_connection(srv.getsockname())
	buf = b"\0" * (1 << 20)
	t0 = time.monotonic()
	while time.monotonic() - t0 < seconds:
		c.sendall(buf)
	c.close()
	t.join()
	el = time.monotonic() - t0
	srv.close()
	return round(got[0] / el / 1e6, 1)


# -- reporting ------------------------------------------------------------

def summary(vals):
	vals = [v for v in vals if v is not None]
	if not vals:
		return None
	return {"median": statistics.median(vals), "min": min(vals),
	    "max": max(vals), "n": len(vals)}


def fmt(s, unit=""):
	if s is None:
		return "-"
	def f(x):
		return ("%.0f" % x) if abs(x) >= 100 else ("%.1f" % x) if abs(x) >= 10 else ("%.2f" % x)
	return "%s%s (%s-%s)" % (f(s["median"]), unit, f(s["min"]), f(s["max"]))


def ratio(a, b):
	if a is None or b is None or not b["median"]:
		return "-"
	return "%.2fx" % (a["median"] / b["median"])


def build_table(results):
	lines = []
	lines.append("| workload | metric | sealpost | anchor | sealpost/anchor |")
	lines.append("|---|---|---|---|---|")
	for w in results["smtp"]:
		label = "SMTP %d KiB, %d session%s, %s" % (w["size_kib"],
		    w["concurrency"], "" if w["concurrency"] == 1 else "s", "1 msg/conn" if w["per_connection"] == 1
		    else "%d msgs/conn" % w["per_connection"])
		s, p = w["summary"]["sealpost"], w["summary"].get("postfix", {})
		for key, name in (("delivered_per_s", "delivered msgs/s"),
		    ("accepted_per_s", "accepted msgs/s"),
		    ("txn_p50_ms", "txn p50 ms"), ("txn_p99_ms", "txn p99 ms"),
		    ("client_cpu_share", "client CPU (cores)"),
		    ("machine_cpu_busy", "machine CPU busy (all cores)")):
			lines.append("| %s | %s | %s | %s | %s |" % (label, name,
			    fmt(s.get(key)), fmt(p.get(key)),
			    ratio(s.get(key), p.get(key))
			    if key != "machine_cpu_busy" else ""))
			label = ""
		fails = sum(r["failed"] for runs in w["runs"].values() for r in runs)
		if fails:
			lines.append("| | failed transactions | %d | %d | |" % (
			    sum(r["failed"] for r in w["runs"]["sealpost"]),
			    sum(r["failed"] for r in w["runs"].get("postfix", []))))
	for w in results.get("submission", []):
		label = "submission, STARTTLS+AUTH+1 msg, %d sessions" % w["concurrency"]
		s, p = w["summary"]["sealpost"], w["summary"]["postfix"]
		for key, name in (("delivered_per_s", "delivered msgs/s"),
		    ("accepted_per_s", "accepted msgs/s"),
		    ("session_p50_ms", "session p50 ms"),
		    ("session_p99_ms", "session p99 ms"),
		    ("client_cpu_share", "client CPU (cores)")):
			lines.append("| %s | %s | %s | %s | %s |" % (label, name,
			    fmt(s.get(key)), fmt(p.get(key)),
			    ratio(s.get(key), p.get(key))))
			label = ""
	for w in results.get("pop3", []):
		label = "POP3 %s, %s, %d client%s" % ("login+STAT+QUIT" if
		    w["kind"] == "login" else "RETR all", "STLS" if w["mode"] == "stls"
		    else "POP3S", w["concurrency"], "" if w["concurrency"] == 1 else "s")
		s, d = w["summary"]["sealpost"], w["summary"]["dovecot"]
		key, name = (("sessions_per_s", "sessions/s") if w["kind"] == "login"
		    else ("mb_per_s", "MB/s"))
		lines.append("| %s | %s | %s | %s | %s |" % (label, name,
		    fmt(s[key]), fmt(d[key]), ratio(s[key], d[key])))
		lines.append("| | client CPU (cores) | %s | %s | |" % (
		    fmt(s["client_cpu_share"]), fmt(d["client_cpu_share"])))
	for name, r in results.get("idle", {}).items():
		lines.append("| idle SMTP, %s | held / wanted | %d / %d | | |" % (
		    name, r["held"], r["wanted"]))
	if "idle" in results and len(results["idle"]) == 2:
		s, p = results["idle"]["sealpost"], results["idle"]["postfix"]
		lines.append("| idle SMTP | total PSS MiB | %.1f | %.1f | |" % (
		    s["pss_kib"] / 1024, p["pss_kib"] / 1024))
		lines.append("| idle SMTP | total PSS MiB before | %.1f | %.1f | |" % (
		    s["pss_kib_before"] / 1024, p["pss_kib_before"] / 1024))
		for key, name in (("bytes_per_conn", "PSS bytes/conn (total/held)"),
		    ("marginal_bytes_per_conn", "PSS bytes/conn (added/held)")):
			lines.append("| idle SMTP | %s | %s | %s | %s |" % (name,
			    s[key], p[key], "%.4fx" % (s[key] / p[key])
			    if s[key] and p[key] else "-"))
	phys = results.get("physical")
	if phys:
		lines.append("| disk | durable Maildir deliveries/s, 1 thread | %s | | |"
		    % phys["fsync_1"])
		lines.append("| disk | durable Maildir deliveries/s, 8 threads | %s | | |"
		    % phys["fsync_8"])
		lines.append("| loopback | TCP MB/s (python, 1 stream) | %s | | |"
		    % phys["loopback_mb_s"])
		if "sealpost_hash_ms" in phys:
			lines.append("| password hash | ms per verification, 1 core "
			    "| %s (%s...) | %s (SHA512-CRYPT) | %.1fx |" % (
			    phys["sealpost_hash_ms"], phys["sealpost_hash_prefix"],
			    phys["sha512_crypt_ms"],
			    phys["sealpost_hash_ms"] / phys["sha512_crypt_ms"]))
	return "\n".join(lines)


def write_docs(results, table):
	doc = ROOT / "docs" / "performance.md"
	begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
	text = doc.read_text() if doc.exists() else (
	    "# Performance\n\n%s\n%s\n" % (begin, end))
	if begin not in text:
		text += "\n%s\n%s\n" % (begin, end)
	f = results["machine"]
	body = [begin, "",
	    "Latest run: %s, `%s` (%s repetitions, alternating servers)." % (
		results["date"], results["command"], results["reps"]),
	    "",
	    "Machine: %s cores (%s), %s MiB RAM, kernel %s; disk %s (%s, "
	    "rotational=%s), work directory under %s; steal time during the "
	    "run %.2f%% of CPU time; load average at start %s." % (
		f.get("cores"), f.get("cpu", "?"), f.get("mem_mib", "?"),
		f.get("kernel"), f.get("disk_device"), f.get("filesystem"),
		f.get("disk_rotational", "?"), f.get("directory", "/tmp"),
		100 * results["steal_share"],
		" ".join("%.2f" % x for x in f.get("loadavg_at_start", ()))),
	    "Versions: %s." % results["versions"],
	    "",
	    "Anchor: Postfix for SMTP, Dovecot for POP3. Medians with (min-max) "
	    "over the repetitions. A ratio > 1 is better for sealpost on rates, "
	    "< 1 on latencies and memory.",
	    "",
	    table, "", end]
	pre = text.split(begin)[0]
	post = text.split(end, 1)[1] if end in text else ""
	doc.write_text(pre + "\n".join(body) + post)


def versions():
	out = []
	r = subprocess.run(["postconf", "-d", "-h", "mail_version"],
	    capture_output=True, text=True)
	out.append("Postfix " + r.stdout.strip())
	r = subprocess.run(["dovecot", "--version"], capture_output=True, text=True)
	out.append("Dovecot " + r.stdout.strip())
	r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
	    capture_output=True, text=True)
	out.append("sealpost " + r.stdout.strip())
	return ", ".join(out)


# -- main -----------------------------------------------------------------

def on_signal(signum, frame):
	raise SystemExit(128 + signum)


def main():
	# So that the finally clause stops every server on SIGTERM/SIGINT too.
	signal.signal(signal.SIGTERM, on_signal)
	signal.signal(signal.SIGINT, on_signal)
	if os.geteuid() != 0:
		sys.exit("bench: run as root (it installs packages and starts "
		    "Postfix/Dovecot instances that switch users)")
	if not SMOKE:
		ensure_packages(PACKAGES)
	loadgen = build_loadgen()
	workdir = Path(tempfile.mkdtemp(prefix="sealpost-bench-", dir=BENCH_DIR))
	os.chmod(workdir, 0o755)
	global ARCHIVE
	ARCHIVE = workdir / "archive"
	log("work directory " + str(workdir))
	started = []
	ok = False
	results = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
	    "command": ("BENCH_FULL=1 make bench" if FULL else
		"BENCH_SMOKE=1 make bench" if SMOKE else "make bench"),
	    "reps": REPS if not SMOKE else 1, "smtp": []}
	j0 = cpu_jiffies()
	try:
		dns = BenchDns(workdir).start()
		started.append(dns)
		sp = Sealpost(workdir, dns.port).setup()
		started.append(sp)
		servers = [sp]
		if not SMOKE:
			cert = str(sp.inst.dir / "tls" / "cert.pem")
			key = str(sp.inst.dir / "tls" / "key.pem")
			pf = Postfix(workdir, cert, key).setup()
			started.append(pf)
			dv = Dovecot(workdir, pf.mail, cert, key, pf.spool).setup()
			started.append(dv)
			servers.append(pf)
			results["versions"] = versions()
			results["machine"] = machine_facts(workdir)
			results["ports"] = {"sealpost_smtp": sp.port,
			    "postfix_smtp": pf.port, "dovecot_pop3": dv.port,
			    "dovecot_pop3s": dv.port_s}
		reps = 1 if SMOKE else REPS
		for size, conc, batch, n in smtp_matrix():
			w = {"size_kib": size, "concurrency": conc,
			    "per_connection": batch, "messages": n,
			    "runs": {s.name: [] for s in servers}}
			for rep in range(reps):
				order = servers if rep % 2 == 0 else servers[::-1]
				for s in order:
					res = run_smtp(loadgen, s, size, conc, batch, n)
					w["runs"][s.name].append(res)
					log("%s %dKiB c=%d b=%d rep %d: %.0f delivered/s, "
					    "p99 %.1f ms, failed %d" % (s.name, size, conc,
					    batch, rep + 1, res["delivered_per_s"],
					    res["txn_p99_ms"], res["failed"]))
			w["summary"] = {name: {k: summary([r[k] for r in runs])
			    for k in ("delivered_per_s", "accepted_per_s",
				"txn_p50_ms", "txn_p99_ms", "client_cpu_share",
				"machine_cpu_busy")}
			    for name, runs in w["runs"].items()}
			results["smtp"].append(w)
		if SMOKE:
			bad = [r for w in results["smtp"] for r in w["runs"]["sealpost"]
			    if r["failed"] or r["delivered"] != r["messages"]]
			if bad:
				raise RuntimeError("smoke run lost messages: %r" % bad)
			log("smoke: ok")
			ok = True
			return 0
		cafile = str(sp.inst.dir / "tls" / "cert.pem")
		results["submission"] = []
		if os.environ.get("BENCH_SKIP_SUBMISSION") != "1":
			subs = [(sp, sp.inst.ports["submission"]), (pf, pf.sub_port)]
			w = {"concurrency": 10, "runs": {"sealpost": [], "postfix": []}}
			for rep in range(REPS):
				for s, port in (subs if rep % 2 == 0 else subs[::-1]):
					res = run_submission(s, port, cafile, 10, 5)
					w["runs"][s.name].append(res)
					log("%s submission c=10: %.1f msgs/s, p50 %.0f ms" % (
					    s.name, res["accepted_per_s"], res["session_p50_ms"]))
			w["summary"] = {name: {k: summary([r[k] for r in runs])
			    for k in ("accepted_per_s", "delivered_per_s",
				"session_p50_ms", "session_p99_ms", "client_cpu_share")}
			    for name, runs in w["runs"].items()}
			results["submission"].append(w)
		results["pop3"] = []
		matrix, seconds, per_box, nboxes = pop_matrix()
		if os.environ.get("BENCH_SKIP_POP3") == "1":
			matrix = []
		pops = [("sealpost", sp, sp.inst.ports["pop3"], sp.inst.ports["pop3s"]),
		    ("dovecot", pf, dv.port, dv.port_s)]
		for name, smtp_server, _, _ in pops if matrix else []:
			n = fill_maildrops(loadgen, smtp_server, per_box, nboxes)
			log("%s maildrops: %d messages of 100 KiB in %d" % (name, n,
			    nboxes))
		for name, _, p, ps in pops if matrix else []:	# warm-up: indexes, page cache
			run_pop(name, p, "stls", cafile, "retr", nboxes, 1, nboxes)
		for kind, mode, conc in matrix:
			w = {"kind": kind, "mode": mode, "concurrency": conc,
			    "runs": {"sealpost": [], "dovecot": []}}
			for rep in range(REPS):
				order = pops if rep % 2 == 0 else pops[::-1]
				for name, _, p, ps in order:
					res = run_pop(name, ps if mode == "pop3s" else p,
					    mode, cafile, kind, conc, seconds, nboxes)
					w["runs"][name].append(res)
					log("%s POP3 %s %s c=%d: %.1f sessions/s, %.1f MB/s" % (
					    name, kind, mode, conc, res["sessions_per_s"],
					    res["mb_per_s"]))
			w["summary"] = {name: {k: summary([r[k] for r in runs])
			    for k in ("sessions_per_s", "mb_per_s", "session_p50_ms",
				"client_cpu_share")}
			    for name, runs in w["runs"].items()}
			results["pop3"].append(w)
		results["idle"] = {}
		idle_n = 10000
		for s in servers if os.environ.get("BENCH_SKIP_IDLE") != "1" else []:
			s.settle()
			results["idle"][s.name] = r = run_idle(loadgen, s, idle_n)
			log("%s idle: held %d, PSS %.1f MiB" % (s.name, r["held"],
			    r["pss_kib"] / 1024))
		results["physical"] = {
		    "fsync_1": fsync_rate(workdir / "fsync", 1),
		    "fsync_8": fsync_rate(workdir / "fsync", 8),
		    "loopback_mb_s": loopback_bandwidth(),
		}
		results["physical"].update(hash_costs(sp.inst.data / "users"))
		j1 = cpu_jiffies()
		results["steal_share"] = ((j1[1] - j0[1]) / (j1[2] - j0[2])
		    if j1[2] > j0[2] else 0.0)
		table = build_table(results)
		print(table)
		outdir = ROOT / "bench" / "results"
		outdir.mkdir(exist_ok=True)
		out = outdir / ("bench-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
		out.write_text(json.dumps(results, indent=1) + "\n")
		log("JSON: " + str(out))
		if os.environ.get("BENCH_NO_DOCS") != "1":
			write_docs(results, table)
			log("table written to docs/performance.md")
		ok = True
		return 0
	finally:
		for s in reversed(started):
			try:
				s.stop()
			except Exception as e:	# keep stopping the others
				log("stopping %s: %s" % (type(s).__name__, e))
		if ok and not KEEP:
			shutil.rmtree(workdir, ignore_errors=True)
		else:
			log("kept " + str(workdir))


if __name__ == "__main__":
	if len(sys.argv) == 3 and sys.argv[1] == "--table":
		# Re-render the table of a results file.
		r = json.load(open(sys.argv[2]))
		for w in r.get("smtp", []):
			for name, runs in w["runs"].items():
				w["summary"][name]["machine_cpu_busy"] = summary(
				    [x.get("machine_cpu_busy") for x in runs])
		print(build_table(r))
		sys.exit(0)
	if len(sys.argv) == 7 and sys.argv[1] == "--sub-worker":
		a = sys.argv[2:]
		sub_worker(int(a[0]), a[1], a[2], float(a[3]), float(a[4]))
		sys.exit(0)
	if len(sys.argv) == 9 and sys.argv[1] == "--pop-worker":
		a = sys.argv[2:]
		pop_worker(int(a[0]), a[1], a[2], a[3], a[4], float(a[5]), float(a[6]))
		sys.exit(0)
	sys.exit(main())
