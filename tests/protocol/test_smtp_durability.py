"""Streaming and durability: a 20 MB message byte-intact with bounded
worker memory, kill -9 right after a 250, SIGTERM with an open transaction,
a dying worker, and SIGHUP reload of accounts."""

import hashlib
import os
import signal
import threading
import time

import pytest

import sealpost_harness as H
from sealpost_harness import marker, simple_message

MB = 1024 * 1024


def make_big(mk, size):
	"""A message of about size bytes with varied 998-octet lines (the
	maximum RFC 5322 allows), some starting with a dot."""
	head = simple_message(mk, body="")
	lines = []
	total = len(head)
	i = 0
	while total < size:
		seed = hashlib.sha256(b"%d" % i).hexdigest()
		line = (seed * 16)[:996]
		if i % 97 == 0:
			line = "." + line[1:]
		line = ("%08d" % i) + line[8:]
		lines.append(line.encode() + b"\r\n")
		total += 998
		i += 1
	return head + b"".join(lines)


class RssSampler(threading.Thread):
	"""Samples the summed VmRSS of the server's process tree."""

	def __init__(self, inst):
		super().__init__(daemon=True)
		self.inst = inst
		self.peak = 0
		self.stop_ev = threading.Event()

	def sample(self):
		return sum(H.proc_status(p, "VmRSS") for p in self.inst.pids())

	def run(self):
		while not self.stop_ev.is_set():
			self.peak = max(self.peak, self.sample())
			time.sleep(0.01)

	def stop(self):
		self.stop_ev.set()
		self.join()
		self.peak = max(self.peak, self.sample())


def send_data_stream(c, msg, chunk=64 * 1024):
	stuffed = H.dot_stuff(msg)
	for i in range(0, len(stuffed), chunk):
		c.send(stuffed[i:i + chunk])
	c.send(b".\r\n")


def send_bdat_stream(c, msg, chunk=1024 * 1024):
	replies = []
	for i in range(0, len(msg), chunk):
		part = msg[i:i + chunk]
		last = b" LAST" if i + chunk >= len(msg) else b""
		c.send(b"BDAT %d%s\r\n" % (len(part), last) + part)
		replies.append(c.reply())
	return replies


@pytest.fixture(scope="module")
def one_worker(module_factory):
	# One worker so that the warm-up and the measured message hit the same
	# process (the baseline is then that worker's steady state).
	return module_factory({"workers": "1"}, name="rss")


def measured_delivery(inst, use_bdat):
	# Warm up: buffers, thread pool, TLS-free code paths all touched once.
	for _ in range(2):
		mk0 = marker()
		c = inst.client()
		c.ehlo()
		assert c.mail_message("someone@example.org", ["alice@example.test"],
		    make_big(mk0, 2 * MB)).code == 250
		c.quit()
	time.sleep(0.2)
	base = sum(H.proc_status(p, "VmRSS") for p in inst.pids())
	mk = marker()
	msg = make_big(mk, 20 * MB)
	sampler = RssSampler(inst)
	sampler.start()
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org> SIZE=%d" % len(msg)).code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	if use_bdat:
		replies = send_bdat_stream(c, msg)
		assert all(r.code == 250 for r in replies), replies[-3:]
	else:
		assert c.cmd("DATA").code == 354
		send_data_stream(c, msg)
		r = c.reply()
		assert r.code == 250, r
	sampler.stop()
	c.quit()
	got = inst.find("alice@example.test", mk)
	assert len(got) == 1
	body = H.split_trace(got[0])[1]
	assert len(body) == len(msg)
	assert hashlib.sha256(body).hexdigest() == hashlib.sha256(msg).hexdigest()
	return base, sampler.peak


@pytest.mark.nosan
@pytest.mark.slow
@pytest.mark.parametrize("use_bdat", [False, True], ids=["data", "bdat"])
def test_durability_20mb_intact_with_bounded_rss(one_worker, use_bdat):
	base, peak = measured_delivery(one_worker, use_bdat)
	grown = peak - base
	print("RSS %s: base %.1f MB, peak %.1f MB, grown %.2f MB" % (
	    "bdat" if use_bdat else "data", base / MB, peak / MB, grown / MB))
	assert grown < 4 * MB, "server RSS grew by %.1f MB (%.1f -> %.1f MB) for a 20 MB message" % (
	    grown / MB, base / MB, peak / MB)


def test_durability_5mb_intact(inst):
	"""The byte-intact half of the above, also under the sanitizers."""
	mk = marker()
	msg = make_big(mk, 5 * MB)
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<bob@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	send_data_stream(c, msg)
	assert c.reply().code == 250
	c.quit()
	got = inst.find("bob@example.test", mk)
	assert len(got) == 1
	assert hashlib.sha256(H.split_trace(got[0])[1]).digest() == hashlib.sha256(msg).digest()


def test_durability_kill9_right_after_250(make_instance):
	inst = make_instance(name="kill9")
	marks = []
	for rcpt in ("alice@example.test", "list@example.test"):
		mk = marker()
		marks.append((rcpt, mk))
		c = inst.client()
		c.ehlo()
		msg = simple_message(mk, to=rcpt, body="%s\r\n" % ("k" * 500 + "\r\n") * 200)
		r = c.mail_message("someone@example.org", [rcpt], msg)
		assert r.code == 250, r
		if rcpt == "list@example.test":
			# Kill the master and every worker at once, the moment the
			# 250 is in our hands.
			pids = inst.pids()
			assert len(pids) >= 2, "expected a master and workers, got %r" % pids
			inst.kill9(pids)
		c.close()
		expected = msg
	assert H.wait_pids_gone(pids, 10), "processes survived SIGKILL"
	# Both messages are complete in every Maildir.
	for rcpt, mk in marks:
		targets = ["alice@example.test", "bob@example.test"] if rcpt.startswith("list") else [rcpt]
		for t in targets:
			got = inst.find(t, mk)
			assert len(got) == 1, (t, mk, len(got))
	got = inst.find("bob@example.test", marks[1][1])[0]
	assert H.split_trace(got)[1] == expected
	# A restarted server works on the same data.
	inst.start()
	mk = marker()
	c = inst.client()
	c.ehlo()
	assert c.mail_message("someone@example.org", ["alice@example.test"],
	    simple_message(mk)).code == 250
	c.quit()
	assert len(inst.find("alice@example.test", mk)) == 1
	assert len(inst.find("alice@example.test", marks[0][1])) == 1


def test_durability_sigterm_lets_open_transaction_finish(make_instance):
	inst = make_instance({"timeout_shutdown": "10"}, name="term1")
	mk = marker()
	msg = simple_message(mk)
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(msg[:40])
	os.kill(inst.proc.pid, signal.SIGTERM)
	inst.stopped = True
	time.sleep(0.5)
	# No new sessions are accepted while draining...
	try:
		# A short real-time wait: the drain deadline keeps running.
		n = H.SmtpClient(inst.smtp, timeout=1.0 / H.SLOW, greet=False)
		try:
			r = n.reply()
			assert r.code == 421, r
		except (H.Closed, OSError):	# refused, reset or never answered
			pass
		n.close()
	except OSError:
		pass
	# ...but the open transaction completes.
	c.send(msg[40:] + b".\r\n")
	r = c.reply()
	assert r.code in (250, 421), r
	if r.code == 250:
		assert len(inst.find("alice@example.test", mk)) == 1
	else:
		assert not inst.find_anywhere(mk)
	try:
		c.cmd("QUIT")
	except (H.Closed, OSError):
		pass
	c.close()
	st = inst.proc.wait((10 + 5) * H.SLOW)
	assert st == 0, "exit status %r\n%s" % (st, inst.log_tail())


def test_durability_sigterm_with_stalled_transaction_exits_0(make_instance):
	inst = make_instance({"timeout_shutdown": "2"}, name="term2")
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(b"Subject: never finished\r\n\r\npartial")
	idle = inst.client()
	idle.ehlo()
	t0 = time.monotonic()
	os.kill(inst.proc.pid, signal.SIGTERM)
	inst.stopped = True
	st = inst.proc.wait((2 + 5) * H.SLOW)
	assert st == 0, "exit status %r\n%s" % (st, inst.log_tail())
	assert time.monotonic() - t0 < (2 + 3) * H.SLOW
	# The clients were told or simply closed; nothing was delivered.
	for s in (c, idle):
		try:
			data = s.expect_closed(timeout=3)
			assert not data or data.startswith(b"421"), data
		except AssertionError:
			raise
		s.close()
	assert not [m for _, m in inst.all_messages() if b"never finished" in m]


def test_durability_sigterm_idle_exits_0_quickly(make_instance):
	inst = make_instance(name="term3")
	t0 = time.monotonic()
	st = inst.stop()
	assert st == 0, inst.log_tail()
	assert time.monotonic() - t0 < 3 * H.SLOW


def test_durability_dead_worker_restarted(make_instance):
	inst = make_instance(name="worker")
	pids = inst.pids()
	workers = [p for p in pids if p != inst.proc.pid]
	assert workers, pids
	os.kill(workers[0], signal.SIGKILL)
	H.wait_pids_gone([workers[0]], 5)
	deadline = time.monotonic() + 10 * H.SLOW
	while time.monotonic() < deadline:
		now = [p for p in inst.pids() if p != inst.proc.pid]
		if len(now) >= len(workers):
			break
		time.sleep(0.1)
	assert len(now) >= len(workers), (workers, now)
	# Every worker serves (several connections spread over them).
	for _ in range(6):
		mk = marker()
		c = inst.client()
		c.ehlo()
		assert c.mail_message("someone@example.org", ["alice@example.test"],
		    simple_message(mk)).code == 250
		c.quit()
		assert len(inst.find("alice@example.test", mk)) == 1
	assert str(workers[0]) in inst.log(), "worker death not logged"


def test_durability_new_account_seen_without_restart(inst):
	"""docs/operations.md: account files are re-read within two seconds of
	a change; no signal is needed."""
	inst.cli("user", "add", "carol@example.test", "--password-stdin",
	    input=b"carol-Secret-3\n")
	inst.cli("alias", "add", "team@example.test", "carol@example.test")
	deadline = time.monotonic() + 5 * H.SLOW
	while True:
		c = inst.client()
		c.ehlo()
		m = c.cmd("MAIL FROM:<someone@example.org>")
		r = c.cmd("RCPT TO:<carol@example.test>")
		r2 = c.cmd("RCPT TO:<team@example.test>")
		c.quit()
		if (r.code == 250 and r2.code == 250) or time.monotonic() > deadline:
			break
		time.sleep(0.2)
	assert m.code == 250, m
	assert r.code == 250 and r2.code == 250, (r, r2)
	# And the new password works for submission.
	c = inst.client("submissions")
	c.ehlo()
	assert c.auth_plain("carol@example.test", "carol-Secret-3").is_(235, "2.7.0")
	c.quit()


def test_durability_sighup_cuts_no_session(make_instance):
	"""SIGHUP reloads; sessions open at that moment finish (operations.md:
	'nothing is cut') and new sessions are served."""
	inst = make_instance(name="hup")
	mk = marker()
	c = inst.client()
	c.ehlo()
	assert c.cmd("MAIL FROM:<someone@example.org>").code == 250
	idle = inst.client()
	idle.ehlo()
	os.kill(inst.proc.pid, signal.SIGHUP)
	time.sleep(1.0 * H.SLOW)
	assert c.cmd("RCPT TO:<alice@example.test>").code == 250
	assert c.cmd("DATA").code == 354
	c.send(simple_message(mk) + b".\r\n")
	r = c.reply()
	assert r.code == 250, r
	c.quit()
	assert len(inst.find("alice@example.test", mk)) == 1
	# An idle session opened before the reload can still start a transaction.
	r = idle.cmd("MAIL FROM:<someone@example.org>")
	assert r.code == 250, r
	idle.quit()
	# New sessions are served (by the new generation of workers).
	for _ in range(4):
		n = inst.client()
		n.ehlo()
		assert n.cmd("MAIL FROM:<someone@example.org>").code == 250
		n.quit()
	assert inst.running()


def test_durability_failed_write_is_4xx_and_nothing_half_delivered(make_instance):
	"""DESIGN.md write path: a failure before the 250 answers 4xx and leaves
	nothing half delivered (no copy for the recipients that did work)."""
	inst = make_instance(name="halfdel")
	bob_new = inst.maildir("bob@example.test") / "new"
	# Make sure bob's Maildir exists (first delivery creates it), then
	# make his new/ unwritable.
	c = inst.client()
	c.ehlo()
	assert c.mail_message("someone@example.org", ["bob@example.test"],
	    simple_message(marker(), to="bob@example.test")).code == 250
	c.quit()
	mode = bob_new.stat().st_mode
	os.chmod(bob_new, 0o500)
	try:
		if os.access(bob_new, os.W_OK) and os.geteuid() != 0:
			pytest.skip("cannot make a directory unwritable here")
		mk = marker()
		c = inst.client()
		c.ehlo()
		r = c.mail_message("someone@example.org", ["alice@example.test", "bob@example.test"],
		    simple_message(mk))
		assert 400 <= r.code < 500, r
		assert c.cmd("NOOP").is_(250, "2.0.0")
		c.quit()
	finally:
		os.chmod(bob_new, mode & 0o7777)
	assert not inst.find("alice@example.test", mk), "alice got a copy of a refused message"
	assert not inst.find("bob@example.test", mk)
	assert not [p for p in inst.queue_files() if mk.encode() in p.read_bytes()]
