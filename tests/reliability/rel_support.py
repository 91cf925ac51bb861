"""Small helpers shared by the reliability tests."""

import os
import resource
import socket
import time

import sealpost_harness as H

LONG = os.environ.get("SEALPOST_LONG") == "1"


def raise_nofile():
	"""Raises this process's descriptor soft limit to the hard limit
	(sealpostd started from here inherits it too); returns the limit."""
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	if soft < hard:
		resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
	return hard


def rss(inst):
	"""Summed VmRSS (bytes) of the master and every worker."""
	return sum(H.proc_status(p, "VmRSS") for p in inst.pids())


def send_one(port, mark, source=None, timeout=10.0, rcpt="alice@example.test"):
	"""One SMTP transaction on a fresh connection. Returns the final reply
	code (250 = acknowledged), or None when the connection failed or was
	closed before a final reply."""
	c = None
	try:
		c = H.SmtpClient(port, source=source, timeout=timeout)
		if c.greeting.code != 220:
			return c.greeting.code
		r = c.cmd("EHLO sender.example.org")
		if r.code != 250:
			return r.code
		for line in ("MAIL FROM:<someone@example.org>", "RCPT TO:<%s>" % rcpt):
			r = c.cmd(line)
			if r.code != 250:
				return r.code
		r = c.cmd("DATA")
		if r.code != 354:
			return r.code
		c.send(H.dot_stuff(H.simple_message(mark)) + b".\r\n")
		code = c.reply().code
		try:
			c.cmd("QUIT")
		except (H.Closed, OSError):
			pass
		return code
	except (H.Closed, OSError, AssertionError):
		return None
	finally:
		if c is not None:
			c.close()


def wait_port(port, timeout):
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		try:
			socket.create_connection(("127.0.0.1", port), timeout=1).close()
			return True
		except OSError:
			time.sleep(0.05)
	return False


def tokens_on_disk(inst):
	"""{marker: number of Maildir files holding it} for every test message."""
	import re
	out = {}
	for _, m in inst.all_messages():
		for t in set(re.findall(rb"Message-ID: <(mk-[0-9a-f]{16})@", m)):
			out[t.decode()] = out.get(t.decode(), 0) + 1
	return out


def percentile(xs, p):
	xs = sorted(xs)
	if not xs:
		return float("nan")
	k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
	return xs[k]
