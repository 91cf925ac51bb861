#!/usr/bin/python3
"""Syscalls per operation of one sealpost worker (`strace -f -c` attached
to it during a fixed workload; docs/performance.md, "Optimisations").

    /usr/bin/python3 bench/syscalls.py BUILD smtp N CONC        # N x 4 KiB, CONC sessions, 50 mailboxes
    /usr/bin/python3 bench/syscalls.py BUILD pop3-login N MSGS  # N POP3S logins on a maildrop of MSGS

Starts the test suite's loopback dnsmasq and one instance with workers = 1,
warms it up, attaches strace to the worker, runs the workload, and prints
strace's table and the total calls per operation.
"""

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "protocol"))
sys.path.insert(0, str(ROOT / "bench"))

import sealpost_harness as H  # noqa: E402
import instructions as P  # noqa: E402


def worker_pid(pids):
	"""The process with the most threads (the worker's pool)."""
	def nthreads(p):
		try:
			return len(os.listdir("/proc/%d/task" % p))
		except OSError:
			return 0
	return max(pids[1:], key=nthreads)


def main():
	build, kind, n, m = (Path(sys.argv[1]).resolve(), sys.argv[2],
	    int(sys.argv[3]), int(sys.argv[4]))
	work = Path(H.make_instance_dir())
	dns = H.DnsServer(work).start()
	inst = H.Instance(build, work / "sp", dns.port, overrides={
	    "workers": "1", "max_sessions_per_ip": "1000"}, users=False)
	out = tempfile.NamedTemporaryFile(prefix="strace-", delete=False).name
	try:
		inst.create()
		boxes = 50 if kind == "smtp" else 1
		for i in range(1, boxes + 1):
			inst.cli("user", "add", "box%02d@%s" % (i, H.DOMAIN),
			    "--password-stdin", input=(P.PASSWORD + "\n").encode())
		inst.start()
		lg = P.loadgen(build)
		ctx = ssl.create_default_context(cafile=inst.cert)
		user = "box01@" + H.DOMAIN
		if kind == "smtp":
			P.smtp(lg, inst, 50, min(m, 50), 4, boxes)
		else:
			P.smtp(lg, inst, m, 1, 4, 1)
			P.pop3_session(inst.ports["pop3s"], ctx, user)
		st = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p",
		    str(worker_pid(inst.pids()))], stderr=subprocess.DEVNULL)
		time.sleep(1.5)
		if kind == "smtp":
			P.smtp(lg, inst, n, m, 4, boxes)
		else:
			for _ in range(n):
				P.pop3_session(inst.ports["pop3s"], ctx, user)
		time.sleep(0.5)
		st.send_signal(2)
		st.wait()
		text = Path(out).read_text()
		print(text)
		total = int(text.strip().splitlines()[-1].split()[3])
		print("calls per operation: %.1f" % (total / n))
	finally:
		inst.stop()
		dns.stop()
		os.unlink(out)
		shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
	main()
