"""Helpers for the relay suite: a scriptable fake SMTP peer (asyncio, in a
thread) and submission of a message from instance A to a remote address."""

import asyncio
import re
import threading
import time

import sealpost_harness as H


class FakePeer:
	"""A minimal SMTP server on 127.0.0.1:port. answer(rcpt, attempt)
	returns the RCPT reply line; final(attempt) the reply after the dot.
	Records every transaction as dict(mail, rcpts, data)."""

	def __init__(self, rcpt_answer=None, final_answer=None, ehlo_lines=None):
		self.rcpt_answer = rcpt_answer or (lambda rcpt, n: "250 2.1.5 ok")
		self.final_answer = final_answer or (lambda n: "250 2.0.0 queued")
		self.ehlo_lines = ehlo_lines or ["PIPELINING", "SIZE 10485760",
		    "8BITMIME"]
		self.transactions = []
		self.attempts = 0
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
		self.loop.run_forever()

	async def _session(self, reader, writer):
		self.attempts += 1
		n = self.attempts
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
					t = {"mail": None, "rcpts": [], "data": None}
				elif up == "QUIT":
					await send("221 2.0.0 bye")
					break
				elif up == "RSET":
					t = {"mail": None, "rcpts": [], "data": None}
					await send("250 2.0.0 ok")
				else:
					await send("502 5.5.2 not here")
		except (ConnectionError, asyncio.IncompleteReadError):
			pass
		finally:
			writer.close()

	def stop(self):
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
