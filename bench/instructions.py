#!/usr/bin/python3
"""Instruction counts per operation of one sealpost worker, under
callgrind: a fixed workload, so the figures do not depend on how busy the
machine is (docs/performance.md, "Optimisations").

    /usr/bin/python3 bench/instructions.py BUILD smtp N CONC [KIB]
    /usr/bin/python3 bench/instructions.py BUILD pop3-login N [MSGS]
    /usr/bin/python3 bench/instructions.py BUILD pop3-login-resume N [MSGS]   # TLS session resumed
    /usr/bin/python3 bench/instructions.py BUILD pop3-retr SESSIONS MSGS [KIB]

Starts the test suite's loopback dnsmasq and one sealpost instance with
workers = 1 whose sealpostd runs under `valgrind --tool=callgrind`
(children follow the fork). the instance runs twice: warm-up only, and warm-up plus the workload; the
worker's instructions (Ir, read from its callgrind file at exit) of the
first run are subtracted from the second's and divided by the operations
done, so start-up (the dummy yescrypt hash) does not count.
PROFILE_KEEP=1 keeps the callgrind files for callgrind_annotate. BUILD
should be a RelWithDebInfo build.
"""

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "protocol"))

import sealpost_harness as H  # noqa: E402

PASSWORD = "bench-Password-1"
DOMAIN = H.DOMAIN


class Valgrinded(H.Instance):
	def __init__(self, *a, outdir, **kw):
		super().__init__(*a, **kw)
		self.outdir = outdir

	def _start(self, wait=True):
		log = open(self.logpath, "ab")
		self.proc = subprocess.Popen(
		    ["valgrind", "--tool=callgrind", "--quiet",
		    "--callgrind-out-file=%s/callgrind.out.%%p" % self.outdir,
		    str(self.build / "sealpostd"), "-c", str(self.conf)],
		    stdout=log, stderr=log, stdin=subprocess.DEVNULL,
		    **H.proc_user_kw())
		log.close()
		self.starts += 1
		if wait:
			self.wait_ready(timeout=300)
		return self


def loadgen(build):
	out = Path(build) / "bench" / "smtp_load"
	out.parent.mkdir(parents=True, exist_ok=True)
	subprocess.run(["cc", "-O2", "-pthread", "-o", str(out),
	    str(ROOT / "bench" / "smtp_load.c")], check=True)
	return out


def smtp(lg, inst, n, conc, kib, boxes):
	r = subprocess.run([str(lg), "-p", str(inst.smtp), "-n", str(n), "-c",
	    str(conc), "-s", str(kib), "-b", "1", "-m", str(boxes), "-d", DOMAIN,
	    "-f", "bench@example.org", "-t", "600"], capture_output=True,
	    text=True, timeout=3600)
	res = json.loads(r.stdout.strip().splitlines()[-1])
	assert res["accepted"] == n, res
	return res


RESUME = {}


def pop3_session(port, ctx, user, retr=0, resume=False):
	"""One POP3S session; resume=True offers the previous session's TLS
	session (ticket) for resumption."""
	s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
	    server_hostname=H.HOSTNAME,
	    session=RESUME.get(port) if resume else None)
	f = s.makefile("rb")
	assert f.readline().startswith(b"+OK")
	for c in ("USER " + user, "PASS " + PASSWORD):
		s.sendall(c.encode() + b"\r\n")
		assert f.readline().startswith(b"+OK"), c
	got = 0
	for i in range(1, retr + 1):
		s.sendall(b"RETR %d\r\n" % i)
		assert f.readline().startswith(b"+OK")
		while True:
			line = f.readline()
			if line == b".\r\n":
				break
			got += len(line)
	s.sendall(b"QUIT\r\n")
	f.readline()
	if resume:
		RESUME[port] = s.session
	s.close()
	return got


def worker_ir(outdir):
	"""Ir of the busiest process (the worker) at its exit."""
	best = 0
	for p in Path(outdir).glob("callgrind.out.*"):
		m = re.search(r"^(?:summary|totals): (\d+)", p.read_text(
		    errors="replace"), re.M)
		if m:
			best = max(best, int(m.group(1)))
	return best


def run_once(build, kind, args, scale):
	"""One instance, the workload scaled by `scale` (0 = none, only the
	warm-up): returns (operations, worker Ir, wall seconds)."""
	work = Path(H.make_instance_dir())
	outdir = work / "callgrind"
	outdir.mkdir()
	os.chmod(outdir, 0o777)
	dns = H.DnsServer(work).start()
	boxes = 50 if kind == "smtp" else 1
	inst = Valgrinded(build, work / "sealpost", dns.port, overrides={
	    "workers": "1", "max_sessions_per_ip": "1000"}, users=False,
	    outdir=outdir)
	try:
		inst.create()
		for i in range(1, boxes + 1):
			inst.cli("user", "add", "box%02d@%s" % (i, DOMAIN),
			    "--password-stdin", input=(PASSWORD + "\n").encode())
		inst.start()
		lg = loadgen(build)
		ctx = ssl.create_default_context(cafile=inst.cert)
		user = "box01@" + DOMAIN
		if kind == "smtp":
			n, conc = args[0], args[1]
			kib = args[2] if len(args) > 2 else 4
			smtp(lg, inst, 50, min(conc, 50), kib, boxes)	# warm-up
		elif kind == "pop3-retr":
			nmsg = args[1]
			kib = args[2] if len(args) > 2 else 100
			smtp(lg, inst, nmsg, 1, kib, 1)
			pop3_session(inst.ports["pop3s"], ctx, user, nmsg)	# warm-up
		else:
			if len(args) > 1:	# a maildrop of args[1] 4 KiB messages
				smtp(lg, inst, args[1], 1, 4, 1)
			pop3_session(inst.ports["pop3s"], ctx, user,
			    resume=kind == "pop3-login-resume")
		t0 = time.monotonic()
		ops = 0
		if kind == "smtp":
			if scale:
				smtp(lg, inst, n * scale, conc, kib, boxes)
			ops = n * scale
		elif kind == "pop3-retr":
			for _ in range(args[0] * scale):
				pop3_session(inst.ports["pop3s"], ctx, user, nmsg)
			ops = args[0] * scale * nmsg
		else:
			resume = kind == "pop3-login-resume"
			for _ in range(args[0] * scale):
				pop3_session(inst.ports["pop3s"], ctx, user,
				    resume=resume)
			ops = args[0] * scale
		wall = time.monotonic() - t0
	finally:
		inst.stop(timeout=120)
		dns.stop()
	ir = worker_ir(outdir)
	if os.environ.get("PROFILE_KEEP") != "1":
		shutil.rmtree(work, ignore_errors=True)
	else:
		print("kept %s" % work, file=sys.stderr)
	return ops, ir, wall


def main():
	"""Runs the warm-up alone and warm-up + workload: the difference is
	the workload's cost, without start-up (e.g. the dummy yescrypt hash)."""
	build, kind = Path(sys.argv[1]).resolve(), sys.argv[2]
	args = [int(a) for a in sys.argv[3:]]
	_, ir0, _ = run_once(build, kind, args, 0)
	ops, ir1, wall = run_once(build, kind, args, 1)
	print(json.dumps({"kind": kind, "args": args, "ops": ops,
	    "worker_ir_base": ir0, "worker_ir": ir1,
	    "worker_ir_per_op": round((ir1 - ir0) / ops),
	    "wall_s_under_valgrind": round(wall, 1)}))


if __name__ == "__main__":
	main()
