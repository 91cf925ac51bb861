"""RETR's sendfile path (docs/performance.md): a message sealpost
delivered CRLF-only with no line starting with '.' is marked ",P=1" in its
Maildir name and sent with sendfile(2) on plaintext connections; every
other message takes the copying path that converts and dot-stuffs. Both
must put the same bytes on the wire for the same stored file."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pop3_support import (  # noqa: E402,F401
    APOP_SECRETS, SLOW, apop_digest, pop3_factory)

# Plaintext POP3 logins are only APOP or SCRAM (pop3_require_tls = no);
# carol has an APOP secret.
GINA = "carol@example.test"


def big_clean(kib):
	lines = [b"Subject: big clean", b"From: <a@example.org>", b""]
	i = 0
	while sum(len(l) + 2 for l in lines) < kib * 1024:
		lines.append(b"line %06d %s x." % (i, b"abcdefghij" * (i % 9)))
		i += 1
	return b"\r\n".join(lines) + b"\r\n"


def dotted(kib):
	body = big_clean(kib).replace(b"Subject: big clean", b"Subject: dots")
	return body + b".\r\n..two\r\n.leading dot\r\nend\r\n.\r\n"


def login_plain(inst):
	c = inst.client()
	ts = c.greeting.split()[-1].decode()
	c.cmd_ok("APOP %s %s" % (GINA, apop_digest(ts, APOP_SECRETS[GINA])))
	return c


def stored(inst):
	"""Name -> bytes of every file in gina's new/ and cur/."""
	out = {}
	for sub in ("new", "cur"):
		d = inst.maildir(GINA) / sub
		if d.is_dir():
			for p in d.iterdir():
				out[p.name] = p.read_bytes()
	return out


def test_pop3_retr_sendfile_and_copy_path_identical(pop3_factory):
	inst = pop3_factory({"pop3_require_tls": "no", "pop3_apop": "yes",
	    "log_level": "debug", "workers": "1"})
	inst.clear(GINA)
	inst.smtp_deliver(GINA, big_clean(300))
	inst.smtp_deliver(GINA, dotted(200))
	files = stored(inst)
	assert len(files) == 2
	raw = [n for n in files if ",P=1" in n]
	assert len(raw) == 1 and b"Subject: big clean" in files[raw[0]]
	# The same stored bytes once more under foreign names: copy path.
	# Dated later, so they list after the deliveries (oldest first).
	for name in sorted(files):
		inst.drop_file(GINA, files[name], when=time.time() + 100)
	c = login_plain(inst)
	_, listing = c.cmd_multi("LIST")
	sizes = [int(l.split()[1]) for l in listing.split(b"\r\n") if l]
	assert len(sizes) == 4
	_, uidl = c.cmd_multi("UIDL")
	uids = [l.split()[1] for l in uidl.split(b"\r\n") if l]
	flagged = [i + 1 for i, u in enumerate(uids) if b",P=1" in u]
	assert len(flagged) == 1
	raw_i = flagged[0]	# the message the sendfile path serves
	assert raw_i in (1, 2)
	got = []
	for i in range(1, 5):
		r = c.cmd_ok("RETR %d" % i)
		assert r == b"+OK %d octets\r\n" % sizes[i - 1]
		got.append(c.raw_multi())
	# Pipelined: replies stay in order, one file at a time.
	c.send("RETR 1\r\nRETR 2\r\nRETR 1\r\nNOOP\r\n")
	piped = []
	for i in (1, 2, 1):
		assert c.line().startswith(b"+OK")
		piped.append(c.raw_multi())
	assert c.line() == b"+OK\r\n"
	c.cmd_ok("QUIT")
	# Messages 1-2 are the deliveries (oldest first), 3-4 their copies.
	by_subject = {}
	for body in got:
		key = b"dots" if b"Subject: dots" in body else b"clean"
		by_subject.setdefault(key, []).append(body)
	for key, bodies in by_subject.items():
		assert len(bodies) == 2 and bodies[0] == bodies[1], key
	clean = by_subject[b"clean"][0]
	assert clean == files[raw[0]] + b".\r\n"	# the file, as is
	dots = by_subject[b"dots"][0]
	assert b"\r\n..\r\n...two\r\n..leading dot\r\n" in dots
	assert piped == [got[0], got[1], got[0]]
	# Over TLS the copy path serves the same bytes.
	t = inst.login(GINA, tls=True)
	for i in (1, 2):
		t.cmd_ok("RETR %d" % i)
		assert t.raw_multi() == got[i - 1]
	t.cmd_ok("QUIT")
	# The log reaches the file a little later.
	deadline = time.monotonic() + 5 * SLOW
	while inst.log().count("event=retr") < 9 and time.monotonic() < deadline:
		time.sleep(0.1)
	log = inst.log()
	plain = [1, 2, 3, 4, 1, 2, 1]
	assert log.count("sendfile=yes") == plain.count(raw_i)
	assert log.count("sendfile=raw") == [1, 2].count(raw_i)	# over TLS
	assert log.count("sendfile=no") == 9 - plain.count(raw_i) - [1, 2].count(raw_i)
