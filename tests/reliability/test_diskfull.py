"""Disk full (issue 6): the data directory on a small tmpfs the test
mounts (root only; skipped otherwise). When space runs out senders get
452 4.3.1, no partial message is visible in any Maildir (new/, cur/ or
a leftover in tmp/), POP3 keeps serving what was delivered, delivered
files stay intact (checksums), and once space is freed delivery works
again without a restart."""

import hashlib
import os
import poplib
import ssl
import subprocess

import pytest

import sealpost_harness as H
from rel_support import send_one

MB = 1 << 20
SIZE_MB = 8


def big_message(mark, size):
	line = ("%s " % mark + "x" * 70)[:76] + "\r\n"
	body = line * (size // len(line))
	return H.simple_message(mark, body=body)


def send_big(inst, mark, size):
	c = H.SmtpClient(inst.smtp, timeout=30)
	try:
		c.ehlo()
		r = c.cmd("MAIL FROM:<someone@example.org>")
		if r.code != 250:
			return r
		r = c.cmd("RCPT TO:<alice@example.test>")
		if r.code != 250:
			return r
		r = c.cmd("DATA")
		if r.code != 354:
			return r
		c.send(H.dot_stuff(big_message(mark, size)) + b".\r\n")
		return c.reply()
	finally:
		c.close()


@pytest.fixture
def small_fs_instance(make_instance):
	if os.geteuid() != 0:
		pytest.skip("mounting a tmpfs needs root")
	inst = make_instance(start=False, name="diskfull")
	data = inst.data
	keep = data.with_name("data.orig")
	# cp -a keeps owners (the unprivileged `user` must own the tree).
	subprocess.run(["cp", "-a", str(data), str(keep)], check=True)
	st = os.stat(data)
	r = subprocess.run(["mount", "-t", "tmpfs", "-o",
	    "size=%dm,mode=%o" % (SIZE_MB, st.st_mode & 0o7777), "tmpfs", str(data)],
	    capture_output=True)
	if r.returncode != 0:
		pytest.skip("cannot mount tmpfs: %s" % r.stderr.decode(errors="replace"))
	try:
		os.chown(data, st.st_uid, st.st_gid)
		subprocess.run(["cp", "-a", str(keep) + "/.", str(data)], check=True)
		inst.start()
		yield inst
	finally:
		inst.stop()
		subprocess.run(["umount", str(data)], capture_output=True)
		if os.path.ismount(data):
			subprocess.run(["umount", "-l", str(data)], capture_output=True)


def maildir_files(inst, sub):
	out = []
	root = inst.data / "mail"
	for p in root.rglob("*"):
		if p.is_file() and p.parent.name == sub:
			out.append(p)
	return out


def pop3_messages(inst, user, password):
	ctx = ssl.create_default_context(cafile=inst.cert)
	p = poplib.POP3_SSL("127.0.0.1", inst.ports["pop3s"], context=ctx,
	    timeout=30 * H.SLOW)
	try:
		p.user(user)
		p.pass_(password)
		n, _ = p.stat()
		out = []
		for i in range(1, n + 1):
			_, lines, _ = p.retr(i)
			out.append(b"\r\n".join(lines) + b"\r\n")
		return p, out
	except Exception:
		p.quit()
		raise


def test_diskfull_452_nothing_partial_pop3_serves_and_recovers(small_fs_instance):
	inst = small_fs_instance
	delivered = {}		# mark -> sha256 of the stored file
	full_reply = None
	for i in range(4 * SIZE_MB):
		mark = H.marker()
		r = send_big(inst, mark, MB)
		if r.code == 250:
			delivered[mark] = None
			continue
		full_reply = r
		break
	assert full_reply is not None, "an %d MB filesystem took %d MB" % (
	    SIZE_MB, len(delivered))
	assert full_reply.is_(452, "4.3.1"), full_reply
	# Top the filesystem up to the last byte, then small messages fail too.
	filler = inst.data / "filler"
	with open(filler, "wb") as f:
		try:
			while True:
				f.write(b"\0" * 65536)
				f.flush()
		except OSError:
			pass
	small = [send_one(inst.smtp, H.marker()) for _ in range(3)]
	assert all(c == 452 for c in small), small
	assert len(delivered) >= 3

	# Nothing partial anywhere: tmp/ is empty, each new/ file is whole.
	assert maildir_files(inst, "tmp") == []
	files = maildir_files(inst, "new") + maildir_files(inst, "cur")
	assert len(files) == len(delivered), (len(files), len(delivered))
	for p in files:
		m = p.read_bytes()
		mark = m.split(b"Message-ID: <", 1)[1].split(b"@", 1)[0].decode()
		assert mark in delivered
		assert m.endswith(b"x\r\n") and len(m) > MB - 4096, (p, len(m))
		delivered[mark] = hashlib.sha256(m).hexdigest()
	spool = inst.data / "spool"
	leftovers = [p for p in spool.rglob("*") if p.is_file()] if spool.is_dir() else []
	assert leftovers == [], leftovers

	# POP3 still serves every delivered message, byte for byte.
	p, msgs = pop3_messages(inst, "alice@example.test", H.USERS["alice@example.test"])
	p.quit()
	assert len(msgs) == len(delivered)
	got = {hashlib.sha256(m).hexdigest() for m in msgs}
	assert got == set(delivered.values())

	# Free space: delete the filler and one message over POP3, no restart.
	filler.unlink()
	p, msgs = pop3_messages(inst, "alice@example.test", H.USERS["alice@example.test"])
	p.dele(1)
	p.quit()
	mark = H.marker()
	assert send_one(inst.smtp, mark) == 250
	assert inst.find("alice@example.test", mark)
	r = send_big(inst, H.marker(), MB)
	assert r.code == 250, r
	# What was delivered before is untouched.
	now = {hashlib.sha256(p.read_bytes()).hexdigest()
	    for p in maildir_files(inst, "new") + maildir_files(inst, "cur")}
	assert len(set(delivered.values()) - now) == 1	# the one DELEted
	print("\ndiskfull: %d x 1 MB delivered on %d MB, then %s; recovered" % (
	    len(delivered), SIZE_MB, full_reply))
