"""Graceful stop (issue 6): SIGTERM while 50 transactions are open, at
different stages. Each either completes with 250 or is told 421 (or
sees the connection close before any 250); every 250 is on disk; the
server exits 0."""

import signal
import os
import threading

import sealpost_harness as H
from rel_support import tokens_on_disk

N = 50
# Where each client stands when SIGTERM arrives.
STAGES = ("ehlo", "mail", "rcpt", "data", "half-body")


def test_stop_sigterm_during_50_transactions(make_instance):
	inst = make_instance({"timeout_shutdown": "10", "workers": "2"},
	    name="stop")
	ready = threading.Barrier(N + 1, timeout=60 * H.SLOW)
	go = threading.Event()
	results = [None] * N
	marks = [H.marker() for _ in range(N)]

	def client(i):
		stage = STAGES[i % len(STAGES)]
		body = H.dot_stuff(H.simple_message(marks[i])) + b".\r\n"
		steps = ["EHLO c%d.example.org" % i, "MAIL FROM:<someone@example.org>",
		    "RCPT TO:<alice@example.test>", "DATA"]
		upto = {"ehlo": 1, "mail": 2, "rcpt": 3, "data": 4, "half-body": 4}[stage]
		c = None
		try:
			c = H.SmtpClient(inst.smtp, timeout=30)
			for line in steps[:upto]:
				r = c.cmd(line)
				assert r.code in (250, 354), r
			if stage == "half-body":
				c.send(body[:len(body) // 2])
			ready.wait()
			go.wait()
			try:
				if stage == "half-body":
					c.send(body[len(body) // 2:])
				else:
					for line in steps[upto:]:
						r = c.cmd(line)
						if r.code not in (250, 354):
							results[i] = (stage, r.code)
							return
					c.send(body)
				r = c.reply()
				results[i] = (stage, r.code)
			except (H.Closed, OSError):
				results[i] = (stage, "closed")
		finally:
			if c is not None:
				c.close()

	threads = [threading.Thread(target=client, args=(i,)) for i in range(N)]
	for t in threads:
		t.start()
	ready.wait()
	os.kill(inst.proc.pid, signal.SIGTERM)
	go.set()
	for t in threads:
		t.join(60 * H.SLOW)
	inst.stopped = True
	status = inst.proc.wait(30 * H.SLOW)
	on_disk = tokens_on_disk(inst)
	counts = {}
	for i, res in enumerate(results):
		assert res is not None, "client %d did not finish" % i
		stage, code = res
		counts[code] = counts.get(code, 0) + 1
		assert code in (250, 421, "closed"), (i, res)
		if code == 250:
			assert marks[i] in on_disk, "250 but not on disk: %r" % (res,)
	print("\nstop: outcomes %r, exit status %r" % (counts, status))
	assert status == 0, inst.log_tail()
	# Those mid-transaction when SIGTERM came may finish it.
	assert counts.get(250, 0) >= 1
