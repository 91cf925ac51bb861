"""Helpers for the relay suite: a scriptable fake SMTP peer (asyncio, in a
thread) and submission of a message from instance A to a remote address."""

import asyncio
import re
import threading
import time

import sealpost_harness as H


def run_until_stopped(loop):
	"""Runs a peer's event loop until loop.stop(), then ends the sessions
	still open on the running loop (their writer.close() would otherwise
	run at garbage collection, after the loop is gone, and warn) and
	closes it."""
	loop.run_forever()
	pending = asyncio.all_tasks(loop)
	for t in pending:
		t.cancel()
	loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
	loop.close()


class FakePeer:
	"""A minimal SMTP server on 127.0.0.1:port. answer(rcpt, attempt)
	returns the RCPT reply line; final(attempt) the reply after the dot,
	where attempt counts MAIL commands (1 for the first transaction; the
	runner reuses connections, so sessions would not count attempts).
	Records every transaction as dict(mail, rcpts, data); `attempts`
	counts sessions, `mails` transactions."""

	def __init__(self, rcpt_answer=None, final_answer=None, ehlo_lines=None):
		self.rcpt_answer = rcpt_answer or (lambda rcpt, n: "250 2.1.5 ok")
		self.final_answer = final_answer or (lambda n: "250 2.0.0 queued")
		self.ehlo_lines = ehlo_lines or ["PIPELINING", "SIZE 10485760",
		    "8BITMIME"]
		self.transactions = []
		self.attempts = 0
		self.mails = 0
		self.rsets = 0
		self.open = 0		# sessions open now
		self.max_open = 0	# the most ever open at once
		self.busy = 0		# sessions inside a transaction now
		self.max_busy = 0	# the most ever at once (MAIL to reply)
		self.delay = 0.0	# seconds before the reply to the final dot
		self.stall_greeting = False	# accept, then say nothing
		self.close_in_data = False	# hang up after the first data line
		self.port = H.free_port_base() + 25
		self.loop = asyncio.new_event_loop()
		self.ready = threading.Event()
		self.thread = threading.Thread(target=self._run, daemon=True)
		self.thread.start()
		self.ready.wait(5)

	def _run(self):
		asyncio.set_event_loop(self.loop)
		self.server = self.loop.run_until_complete(asyncio.start_server(
		    self._session, "127.0.0.1", self.port))
		self.ready.set()
		run_until_stopped(self.loop)

	async def _session(self, reader, writer):
		self.attempts += 1
		n = 0
		in_txn = [False]

		def txn(on):
			if on and not in_txn[0]:
				self.busy += 1
				self.max_busy = max(self.max_busy, self.busy)
			elif not on and in_txn[0]:
				self.busy -= 1
			in_txn[0] = on
		self.open += 1
		self.max_open = max(self.max_open, self.open)
		t = {"mail": None, "rcpts": [], "data": None}

		async def send(line):
			writer.write(line.encode() + b"\r\n")
			await writer.drain()
		try:
			if self.stall_greeting:
				await reader.read()	# until the client gives up
				return
			await send("220 fake.peer ESMTP")
			while True:
				line = await reader.readline()
				if not line:
					break
				cmd = line.decode(errors="replace").rstrip("\r\n")
				up = cmd.upper()
				if up.startswith("EHLO"):
					lines = ["fake.peer"] + self.ehlo_lines
					for i, l in enumerate(lines):
						await send("250%s%s" % ("-" if i < len(lines) - 1
						    else " ", l))
				elif up.startswith("HELO"):
					await send("250 fake.peer")
				elif up.startswith("MAIL FROM:"):
					self.mails += 1
					n = self.mails
					txn(True)
					t = {"mail": cmd[10:], "rcpts": [], "data": None}
					await send("250 2.1.0 ok")
				elif up.startswith("RCPT TO:"):
					m = re.match(r"<([^>]*)>", cmd[8:])
					rcpt = m.group(1) if m else cmd[8:]
					a = self.rcpt_answer(rcpt, n)
					if a.startswith("2"):
						t["rcpts"].append(rcpt)
					await send(a)
				elif up == "DATA" and not t["rcpts"]:
					# As real servers do (RFC 2920 3.1 lets a pipelining
					# client send DATA after refused recipients).
					await send("554 5.5.1 no valid recipients")
				elif up == "DATA":
					await send("354 go ahead")
					data = b""
					while True:
						l = await reader.readline()
						if not l or l == b".\r\n":
							break
						data += l
						if self.close_in_data:
							writer.transport.abort()
							return
					t["data"] = data
					if self.delay:
						await asyncio.sleep(self.delay)
					self.transactions.append(t)
					await send(self.final_answer(n))
					txn(False)
					t = {"mail": None, "rcpts": [], "data": None}
				elif up == "QUIT":
					await send("221 2.0.0 bye")
					break
				elif up == "RSET":
					self.rsets += 1
					txn(False)
					t = {"mail": None, "rcpts": [], "data": None}
					await send("250 2.0.0 ok")
				else:
					await send("502 5.5.2 not here")
		except (ConnectionError, asyncio.IncompleteReadError):
			pass
		finally:
			txn(False)
			self.open -= 1
			writer.close()

	def stop(self):
		if self.loop.is_closed():
			return

		def _stop():
			self.server.close()
			self.loop.stop()
		self.loop.call_soon_threadsafe(_stop)
		self.thread.join(5)


def submit(a, rcpts, body, sender="alice@example.test"):
	"""Authenticated submission on A's port 587 (STARTTLS first)."""
	c = a.client("submission")
	c.ehlo()
	c.starttls()
	c.ehlo()
	r = c.auth_plain(sender, H.USERS[sender])
	assert r.code == 235, r
	r = c.mail_message(sender, rcpts, body)
	assert r.code == 250, r
	c.quit()


def wait_for(pred, timeout, step=0.1):
	deadline = time.monotonic() + timeout * H.SLOW
	while time.monotonic() < deadline:
		v = pred()
		if v:
			return v
		time.sleep(step)
	return pred()


def queue_empty(inst):
	return not [p for p in inst.queue_files() if p.name.endswith(".env")]


class MxDns(H.DnsServer):
	"""The harness's dnsmasq (every record the suites rely on) plus
	extra dnsmasq options, e.g. ["--mx-host=d.example,mx.d.example,10",
	"--host-record=mx.d.example,127.0.0.1"]: a private server for a test
	module that publishes its own MX records."""

	def __init__(self, workdir, extra):
		super().__init__(workdir)
		self.extra = list(extra)

	def args(self):
		return super().args() + self.extra


def runner_pid(inst):
	"""The PID of the instance's queue runner: the last one that logged
	its start, if it is one of the instance's processes."""
	m = re.findall(r"relay event=started pid=(\d+)", inst.log())
	if not m:
		return None
	pid = int(m[-1])
	return pid if pid in inst.pids() else None


def bounces(inst, addr, marker):
	"""Notifications to addr about the message carrying marker."""
	return [m for m in inst.find(addr, marker) if m.startswith(
	    b"Return-Path: <>")]


def kill_runner_during_delivery(make_instance, n, kills, peer_limit=None):
	"""Queues n messages on A for a second instance B, kill -9s A's queue
	runner (only the runner, by PID; the master restarts it) `kills`
	times while it delivers, then waits until A's queue is empty. Returns
	(lost markers, duplicates, kills done, delivered before the last
	kill)."""
	import collections
	import os
	import signal

	remote = "carol@example.net"
	b = make_instance({"domains": "example.net"}, start=False, users=False,
	    name="b")
	b.cli("user", "add", remote, "--password-stdin", input=b"carol-Pw-3\n")
	b.start()
	over = {"transport": "example.net=[127.0.0.1]:%d" % b.smtp,
	    "queue_scan_interval": "1", "queue_retry_schedule": "1s"}
	if peer_limit:
		over["relay_max_per_domain"] = str(peer_limit)
	a = make_instance(over, name="a")
	marks = [H.marker() for _ in range(n)]
	c = a.client(source="127.0.0.2")	# trusted: may relay
	c.ehlo()
	for mk in marks:
		r = c.mail_message("someone@example.org", [remote],
		    H.simple_message(mk, to=remote))
		assert r.code == 250, r
	c.quit()

	def delivered():
		return len(b.messages(remote))

	done = 0
	at_kill = 0
	step = max(1, n // (kills + 2))
	while done < kills:
		# Kill at evenly spread points of the delivery.
		target = step * (done + 1)
		assert wait_for(lambda: delivered() >= target, 120), a.log_tail()
		pid = wait_for(lambda: runner_pid(a), 10)
		assert pid, a.log_tail()
		os.kill(pid, signal.SIGKILL)
		done += 1
		at_kill = delivered()
		# The master notices and starts a new runner.
		assert wait_for(lambda: runner_pid(a) not in (None, pid), 15), \
		    a.log_tail()
	assert wait_for(lambda: queue_empty(a), 60 + n / 10, step=0.2), \
	    a.log_tail()
	got = collections.Counter()
	for m in b.messages(remote):
		mm = re.search(rb"Subject: test (mk-[0-9a-f]+)", m)
		assert mm, m[:300]
		got[mm.group(1).decode()] += 1
	lost = [mk for mk in marks if got[mk] == 0]
	dups = sum(v - 1 for v in got.values())
	return lost, dups, done, at_kill
