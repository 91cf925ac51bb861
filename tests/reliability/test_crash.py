"""Crash durability (issue 6): concurrent senders while the whole server
(master and workers, by PID) is SIGKILLed at random moments and
restarted. Every message that got a 250 must be in a Maildir afterwards;
messages without a 250 may or may not be there. Lost must be 0;
duplicates (a message stored, the 250 lost with the connection, the
client retrying) are counted and printed, not failed on: the client
here never retries a transaction, so a duplicate would be a server bug
and is failed on as well."""

import random
import threading
import time

import sealpost_harness as H
from rel_support import LONG, send_one, tokens_on_disk

MESSAGES = 10000 if LONG else 300
THREADS = 8
KILLS = 40 if LONG else 6


def test_crash_sigkill_loses_no_acknowledged_message(make_instance):
	inst = make_instance({"workers": "2"}, name="crash")
	lock = threading.Lock()
	acked, unacked = [], []
	done = threading.Event()

	def sender():
		while not done.is_set():
			mark = H.marker()
			code = send_one(inst.smtp, mark, timeout=10)
			with lock:
				(acked if code == 250 else unacked).append(mark)
			if code is None:
				time.sleep(0.02)	# the server is down: retry soon

	threads = [threading.Thread(target=sender) for _ in range(THREADS)]
	for t in threads:
		t.start()
	kills = 0
	rng = random.Random()
	try:
		# Kill at random moments until both enough messages are
		# acknowledged and enough kills have hit a busy server.
		while True:
			with lock:
				n = len(acked)
			if n >= MESSAGES and kills >= KILLS:
				break
			time.sleep(rng.uniform(0.05, 0.6) * H.SLOW)
			inst.kill9()
			kills += 1
			inst.start()
	finally:
		done.set()
		for t in threads:
			t.join(60)
	assert inst.stop() == 0
	on_disk = tokens_on_disk(inst)
	lost = [m for m in acked if m not in on_disk]
	dups = sum(1 for m in acked + unacked if on_disk.get(m, 0) > 1)
	unacked_stored = sum(1 for m in unacked if m in on_disk)
	print("\ncrash: %d kills, %d acknowledged, %d not acknowledged "
	    "(%d of them stored anyway), lost %d, duplicated %d" % (
	    kills, len(acked), len(unacked), unacked_stored, len(lost), dups))
	assert len(acked) >= MESSAGES
	assert not lost, "acknowledged but not on disk: %r" % lost[:20]
	assert dups == 0
	# Nothing half-written is visible: every new/ file is a whole message.
	for p, m in inst.all_messages():
		assert m.endswith(b"Second line.\r\n"), (p, m[-200:])
