"""Real POP3 clients from Debian against sealpost: python poplib (plain
with STLS, and POP3_SSL), curl (pop3 with --ssl-reqd, pop3s), fetchmail
(STLS) and getmail6 (POP3 over TLS into a Maildir), each retrieving a
message with awkward lines byte for byte. Clients that are not installed
are skipped."""

import os
import poplib
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))

from pop3_support import (  # noqa: E402,F401
    SLOW, USERS, instance_dir, message, pop3_factory, pop3_inst)

USER = "dave@example.test"
BODY = [b".leading dot", b"..two dots", b".", b"tab\there", b"",
    b"trailing spaces   ", b"x" * 990, b"end"]


def stored(inst):
	files = inst.files(USER)
	assert len(files) == 1, files
	return list(files.values())[0]


def fresh(inst, mark):
	inst.clear(USER)
	inst.smtp_deliver(USER, message(mark, BODY))
	return stored(inst)


def poplib_fetch(p):
	p.user(USER)
	p.pass_(USERS[USER])
	count, size = p.stat()
	assert count == 1
	resp, lines, octets = p.retr(1)
	p.quit()
	return resp, b"\r\n".join(lines) + b"\r\n", octets, size


def test_poplib_stls(pop3_inst):
	want = fresh(pop3_inst, "poplib-stls")
	p = poplib.POP3("127.0.0.1", pop3_inst.pop3, timeout=20 * SLOW)
	caps = p.capa()
	assert "STLS" in caps and "USER" not in caps
	p.stls(context=ssl.create_default_context(cafile=pop3_inst.cert))
	assert "USER" in p.capa()
	resp, got, octets, size = poplib_fetch(p)
	assert got == want
	assert size == len(want)
	assert resp == b"+OK %d octets" % len(want)


def test_poplib_pop3_ssl(pop3_inst):
	want = fresh(pop3_inst, "poplib-ssl")
	ctx = ssl.create_default_context(cafile=pop3_inst.cert)
	p = poplib.POP3_SSL("localhost", pop3_inst.pop3s, context=ctx,
	    timeout=20 * SLOW)
	_, got, _, _ = poplib_fetch(p)
	assert got == want


def test_poplib_plain_user_refused(pop3_inst):
	p = poplib.POP3("127.0.0.1", pop3_inst.pop3, timeout=20 * SLOW)
	try:
		p.user(USER)
		raise AssertionError("USER accepted in the clear")
	except poplib.error_proto as e:
		assert b"[AUTH]" in e.args[0] and b"STLS" in e.args[0]
	p.quit()


def curl(args):
	if shutil.which("curl") is None:
		import pytest
		pytest.skip("curl not installed")
	return subprocess.run(["curl", "-sS", "--max-time", str(int(30 * SLOW))]
	    + args, capture_output=True, timeout=60 * SLOW)


def test_curl_pop3_ssl_reqd(pop3_inst):
	want = fresh(pop3_inst, "curl-stls")
	r = curl(["--ssl-reqd", "--cacert", pop3_inst.cert, "-u",
	    "%s:%s" % (USER, USERS[USER]),
	    "pop3://127.0.0.1:%d/1" % pop3_inst.pop3])
	assert r.returncode == 0, r.stderr
	assert r.stdout == want


def test_curl_pop3s_list(pop3_inst):
	want = fresh(pop3_inst, "curl-pop3s")
	r = curl(["--cacert", pop3_inst.cert, "-u", "%s:%s" % (USER, USERS[USER]),
	    "pop3s://localhost:%d/" % pop3_inst.pop3s])
	assert r.returncode == 0, r.stderr
	assert r.stdout == b"1 %d\r\n" % len(want)
	r = curl(["--cacert", pop3_inst.cert, "-u", "%s:%s" % (USER, USERS[USER]),
	    "pop3s://localhost:%d/1" % pop3_inst.pop3s])
	assert r.stdout == want


def test_curl_without_tls_gets_no_login(pop3_inst):
	"""Without TLS curl finds neither USER nor PLAIN offered."""
	fresh(pop3_inst, "curl-plain")
	r = curl(["-u", "%s:%s" % (USER, USERS[USER]),
	    "pop3://127.0.0.1:%d/1" % pop3_inst.pop3])
	assert r.returncode != 0


def test_fetchmail_stls(pop3_inst, tmp_path):
	if shutil.which("fetchmail") is None:
		import pytest
		pytest.skip("fetchmail not installed")
	want = fresh(pop3_inst, "fetchmail")
	out = tmp_path / "delivered"
	rc = tmp_path / "fetchmailrc"
	rc.write_text(
	    'set no bouncemail\n'
	    'poll localhost via 127.0.0.1 port %d protocol pop3 uidl\n'
	    '  user "%s" password "%s" is root here\n'
	    '  sslproto "tls1.2+" sslcertck sslcertfile "%s"\n'
	    '  sslcommonname localhost\n'
	    '  mda "/bin/sh -c \'cat > %s\'"\n' % (pop3_inst.pop3, USER,
	    USERS[USER], pop3_inst.cert, out))
	rc.chmod(0o600)
	env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
	r = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog", "--invisible",
	    "-v"],
	    capture_output=True, timeout=60 * SLOW, env=env)
	assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
	assert b"STLS" in r.stdout + r.stderr
	# fetchmail hands an MDA LF line ends (stripcr); nothing else changed.
	assert out.read_bytes() == want.replace(b"\r\n", b"\n")
	# It deleted the message: gone at QUIT.
	assert pop3_inst.files(USER) == {}


def test_getmail_pop3_ssl_maildir(pop3_inst, tmp_path):
	if shutil.which("getmail") is None:
		import pytest
		pytest.skip("getmail6 not installed")
	want = fresh(pop3_inst, "getmail")
	# getmail will not deliver as root; as root it delivers as nobody,
	# into a directory nobody can reach.
	md = Path(instance_dir()) / "Maildir"
	for sub in ("tmp", "new", "cur"):
		(md / sub).mkdir(parents=True)
		if os.geteuid() == 0:
			os.chown(md / sub, 65534, 65534)
	if os.geteuid() == 0:
		os.chown(md, 65534, 65534)
	user_line = "user = nobody\n" if os.geteuid() == 0 else ""
	rc = tmp_path / "getmailrc"
	rc.write_text(
	    "[retriever]\n"
	    "type = SimplePOP3SSLRetriever\n"
	    "server = localhost\n"
	    "port = %d\n"
	    "username = %s\n"
	    "password = %s\n"
	    "ca_certs = %s\n"
	    "ssl_cert_hostname = localhost\n"
	    "\n[destination]\n"
	    "type = Maildir\n"
	    "path = %s/\n"
	    "%s"
	    "\n[options]\n"
	    "delete = true\n"
	    "delivered_to = false\n"
	    "received = false\n"
	    "read_all = true\n" % (pop3_inst.pop3s, USER, USERS[USER],
	    pop3_inst.cert, md, user_line))
	r = subprocess.run(["getmail", "--getmaildir", str(tmp_path),
	    "--rcfile", str(rc)], capture_output=True, timeout=60 * SLOW)
	assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
	got = [p.read_bytes() for p in (md / "new").iterdir()]
	assert len(got) == 1
	# getmail writes Maildir files with LF line ends, content unchanged.
	assert got[0].replace(b"\r\n", b"\n") == want.replace(b"\r\n", b"\n")
	assert pop3_inst.files(USER) == {}
