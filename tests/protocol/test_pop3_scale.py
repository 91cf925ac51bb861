"""Size and count: a 1,000-message maildrop and a 20 MB message, served
with exact octet counts; RETR streams, so the worker's memory does not
grow with the message."""

import hashlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pop3_support import (  # noqa: E402,F401
    SANITIZED, crlf, pop3_factory, pop3_inst)

USER = "bob@example.test"


def test_pop3_thousand_messages(pop3_inst):
	inst = pop3_inst
	inst.clear(USER)
	msgs = []
	for i in range(1000):
		body = b"Subject: m%d\r\n\r\nmessage %d\r\n" % (i, i)
		if i % 3 == 0:
			body = body.replace(b"\r\n", b"\n")	# another MDA's file
		name = "%d.M%dP1Q%d.other,S=%d" % (1700000000 + i, i, i,
		    len(crlf(body)))
		if i % 3 == 0:
			name = "%d.M%dP1Q%d.other" % (1700000000 + i, i, i)
		inst.drop_file(USER, body, name=name, when=1700000000 + i)
		msgs.append(crlf(body))
	t0 = time.monotonic()
	c = inst.login(USER)
	total = sum(len(m) for m in msgs)
	assert c.cmd("STAT") == b"+OK 1000 %d\r\n" % total
	_, listing = c.cmd_multi("LIST")
	rows = listing.split(b"\r\n")[:-1]
	assert len(rows) == 1000
	assert rows[0] == b"1 %d" % len(msgs[0])
	assert rows[999] == b"1000 %d" % len(msgs[999])
	_, uidl = c.cmd_multi("UIDL")
	uids = [r.split()[1] for r in uidl.split(b"\r\n")[:-1]]
	assert len(set(uids)) == 1000
	# Oldest delivery first; spot-check content and sizes.
	for n in (1, 2, 500, 1000):
		r, body = c.cmd_multi("RETR %d" % n)
		assert body == msgs[n - 1]
		assert r == b"+OK %d octets\r\n" % len(msgs[n - 1])
	# Pipelined DELE of everything, then UPDATE.
	c.send("".join("DELE %d\r\n" % n for n in range(1, 1001)))
	for n in range(1, 1001):
		assert c.line() == b"+OK Message %d deleted\r\n" % n
	assert c.cmd("QUIT") == \
	    b"+OK sealpost POP3 server signing off (0 messages left)\r\n"
	c.expect_closed()
	assert inst.files(USER) == {}
	assert time.monotonic() - t0 < 30


def worker_rss_kb(inst):
	"""Summed VmRSS of the master's children (the workers)."""
	total = 0
	for pid in os.listdir("/proc"):
		if not pid.isdigit():
			continue
		try:
			stat = Path("/proc/%s/stat" % pid).read_text()
			ppid = int(stat.rsplit(")", 1)[1].split()[1])
			if ppid != inst.proc.pid:
				continue
			for line in Path("/proc/%s/status" % pid).read_text().splitlines():
				if line.startswith("VmRSS:"):
					total += int(line.split()[1])
		except (OSError, ValueError, IndexError):
			continue
	return total


def test_pop3_twenty_megabyte_message(pop3_inst):
	inst = pop3_inst
	inst.clear(USER)
	line = b"." + b"0123456789abcdef" * 4 + b"\n"	# LF, leading dot
	n = 20 * 1024 * 1024 // len(line) + 1
	big = b"Subject: big\n\n" + line * n
	inst.drop_file(USER, big)
	want = crlf(big)
	c = inst.login(USER)
	assert c.cmd("LIST 1") == b"+OK 1 %d\r\n" % len(want)
	base = worker_rss_kb(inst)
	c.send("RETR 1\r\n")
	assert c.line() == b"+OK %d octets\r\n" % len(want)
	# Read slowly at first: the server must wait, not buffer 20 MB.
	got = bytearray(c.buf)
	c.buf = b""
	c.sock.settimeout(20)
	peak = base
	for _ in range(20):
		got += c.sock.recv(65536)
		time.sleep(0.02)
		peak = max(peak, worker_rss_kb(inst))
	while not got.endswith(b"\r\n.\r\n"):
		chunk = c.sock.recv(1 << 20)
		assert chunk
		got += chunk
	body = bytes(got[:-3])
	# Every line started with "." and was stuffed on the wire.
	assert body.count(b"\r\n..") == n
	unstuffed = body.replace(b"\r\n..", b"\r\n.")
	assert hashlib.sha256(unstuffed).digest() == hashlib.sha256(want).digest()
	if not SANITIZED:
		assert peak - base < 8 * 1024, (base, peak)
	c.cmd_ok("QUIT")
