"""Interop with real Debian clients: python smtplib, swaks, curl, msmtp.
Every test checks what actually landed in the Maildir.

A client tool that is missing makes its tests skip (scripts/deps.sh
installs all of them)."""

import os
import re
import smtplib
import ssl
import subprocess

import pytest

import sealpost_harness as H
from sealpost_harness import marker

ALICE = "alice@example.test"
ALICE_PW = H.USERS[ALICE]
BOB = "bob@example.test"
TIMEOUT = 30 * H.SLOW


def message(mk, sender=ALICE, to=BOB):
	return ("From: Alice <%s>\r\nTo: <%s>\r\nSubject: interop %s\r\n"
	    "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <%s@example.test>\r\n"
	    "\r\nHello from %s.\r\n.leading dot line\r\nbye\r\n" % (
	    sender, to, mk, mk, mk)).encode()


def delivered(inst, addr, mk):
	got = inst.find(addr, mk)
	assert len(got) == 1, "%d messages with %s for %s" % (len(got), mk, addr)
	return got[0]


def received(msg):
	trace, _ = H.split_trace(msg)
	return re.sub(r"\s+", " ", b"".join(
	    t for t in trace if t.lower().startswith(b"received:")).decode())


def run(cmd, input=None, env=None):
	r = subprocess.run(cmd, input=input, capture_output=True, timeout=TIMEOUT, env=env)
	out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
	assert r.returncode == 0, "%s -> %d\n%s" % (" ".join(cmd), r.returncode, out[-4000:])
	return out


# -- python smtplib ---------------------------------------------------------

def test_interop_smtplib_plain_port25(inst):
	mk = marker()
	s = smtplib.SMTP("127.0.0.1", inst.smtp, local_hostname="client.example.org",
	    timeout=TIMEOUT)
	code, _ = s.ehlo()
	assert code == 250
	assert s.has_extn("pipelining") and s.has_extn("size") and s.has_extn("starttls")
	refused = s.sendmail("someone@example.org", [ALICE, BOB],
	    message(mk, sender="someone@example.org"))
	assert refused == {}
	s.quit()
	for a in (ALICE, BOB):
		m = delivered(inst, a, mk)
		assert H.split_trace(m)[1] == message(mk, sender="someone@example.org")
		assert re.search(r"\bwith ESMTP\b", received(m))


def test_interop_smtplib_starttls_auth_587(inst):
	mk = marker()
	ctx = ssl.create_default_context(cafile=inst.cert)
	s = smtplib.SMTP("127.0.0.1", inst.submission, local_hostname="client.example.org",
	    timeout=TIMEOUT)
	s.starttls(context=ctx)
	s.login(ALICE, ALICE_PW)
	s.send_message  # noqa: B018 (present)
	s.sendmail(ALICE, [BOB], message(mk))
	s.quit()
	m = delivered(inst, BOB, mk)
	assert H.split_trace(m)[1] == message(mk)
	assert re.search(r"\bwith ESMTPSA\b", received(m))


def test_interop_smtplib_smtp_ssl_465(inst):
	mk = marker()
	ctx = ssl.create_default_context(cafile=inst.cert)
	s = smtplib.SMTP_SSL("127.0.0.1", inst.submissions, local_hostname="client.example.org",
	    context=ctx, timeout=TIMEOUT)
	s.login(ALICE, ALICE_PW)
	s.sendmail(ALICE, [BOB], message(mk))
	s.quit()
	m = delivered(inst, BOB, mk)
	assert H.split_trace(m)[1] == message(mk)
	assert re.search(r"\bwith ESMTPSA\b", received(m))


def test_interop_smtplib_wrong_password(inst):
	ctx = ssl.create_default_context(cafile=inst.cert)
	s = smtplib.SMTP_SSL("127.0.0.1", inst.submissions, context=ctx, timeout=TIMEOUT,
	    source_address=("127.0.0.90", 0))
	with pytest.raises(smtplib.SMTPAuthenticationError) as e:
		s.login(ALICE, "not-the-password")
	assert e.value.smtp_code == 535
	s.close()


# -- swaks ------------------------------------------------------------------

def swaks_base(tool, inst, port):
	return [tool("swaks"), "--server", "127.0.0.1", "--port", str(port),
	    "--helo", "client.example.org", "--timeout", "20"]


def test_interop_swaks_plain_port25(tool, inst):
	mk = marker()
	out = run(swaks_base(tool, inst, inst.smtp) + ["--from", "someone@example.org",
	    "--to", ALICE, "--header", "Subject: swaks %s" % mk, "--body", "body %s" % mk])
	assert "250" in out
	m = delivered(inst, ALICE, mk)
	assert b"body " + mk.encode() in m


def test_interop_swaks_starttls_auth_pipeline(tool, inst):
	mk = marker()
	out = run(swaks_base(tool, inst, inst.submission) + ["--tls",
	    "--tls-verify", "--tls-ca-path", inst.cert, "--tls-sni", H.HOSTNAME,
	    "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", ALICE_PW,
	    "--pipeline", "--from", ALICE, "--to", BOB,
	    "--header", "From: <%s>" % ALICE, "--header", "Subject: swaks %s" % mk,
	    "--body", "body %s" % mk])
	assert "235" in out, out
	m = delivered(inst, BOB, mk)
	assert re.search(r"\bwith ESMTPSA\b", received(m))


@pytest.mark.parametrize("mech", ["LOGIN", "PLAIN"])
def test_interop_swaks_tls_on_connect_465(tool, inst, mech):
	mk = marker()
	run(swaks_base(tool, inst, inst.submissions) + ["--tlsc",
	    "--auth", mech, "--auth-user", ALICE, "--auth-password", ALICE_PW,
	    "--from", ALICE, "--to", BOB,
	    "--header", "From: <%s>" % ALICE, "--header", "Subject: swaks %s" % mk,
	    "--body", "body %s" % mk])
	m = delivered(inst, BOB, mk)
	assert re.search(r"\bwith ESMTPSA\b", received(m))


def test_interop_swaks_spoofing_refused(tool, inst):
	"""docs/drawbacks.md shows this swaks line: the spoof fails."""
	mk = marker()
	r = subprocess.run(swaks_base(tool, inst, inst.smtp) + ["--from", "lisa@example.test",
	    "--to", BOB, "--body", "I hate you. %s" % mk], capture_output=True, timeout=TIMEOUT)
	out = r.stdout.decode(errors="replace")
	assert r.returncode != 0
	assert re.search(r"^<\*\* +550 5\.7\.1", out, re.M), out
	assert not inst.find_anywhere(mk)


# -- curl -------------------------------------------------------------------

def curl_send(tool, inst, url, mk, tmp_path, extra=()):
	f = tmp_path / ("mail-%s.eml" % mk)
	f.write_bytes(message(mk))
	run([tool("curl"), "-sS", "--url", url, "--cacert", inst.cert,
	    "--mail-from", ALICE, "--mail-rcpt", BOB, "-T", str(f),
	    "--user", "%s:%s" % (ALICE, ALICE_PW), "--max-time", "20"] + list(extra))


def test_interop_curl_smtp_starttls(tool, inst, tmp_path):
	mk = marker()
	curl_send(tool, inst, "smtp://127.0.0.1:%d" % inst.submission, mk, tmp_path,
	    ["--ssl-reqd"])
	m = delivered(inst, BOB, mk)
	assert H.split_trace(m)[1] == message(mk)
	assert re.search(r"\bwith ESMTPSA\b", received(m))


def test_interop_curl_smtps(tool, inst, tmp_path):
	mk = marker()
	curl_send(tool, inst, "smtps://127.0.0.1:%d" % inst.submissions, mk, tmp_path)
	m = delivered(inst, BOB, mk)
	assert H.split_trace(m)[1] == message(mk)


def test_interop_curl_smtps_hostname_verified(tool, inst, tmp_path):
	mk = marker()
	curl_send(tool, inst, "smtps://%s:%d" % (H.HOSTNAME, inst.submissions), mk, tmp_path,
	    ["--resolve", "%s:%d:127.0.0.1" % (H.HOSTNAME, inst.submissions)])
	delivered(inst, BOB, mk)


def test_interop_curl_port25_no_auth(tool, inst, tmp_path):
	mk = marker()
	f = tmp_path / "m.eml"
	f.write_bytes(message(mk, sender="someone@example.org", to=ALICE))
	run([tool("curl"), "-sS", "--url", "smtp://127.0.0.1:%d" % inst.smtp,
	    "--mail-from", "someone@example.org", "--mail-rcpt", ALICE, "-T", str(f),
	    "--max-time", "20"])
	delivered(inst, ALICE, mk)


# -- msmtp ------------------------------------------------------------------

def msmtprc(inst, tmp_path, port, starttls):
	rc = tmp_path / "msmtprc"
	rc.write_text("""defaults
logfile %s

account sealpost
host 127.0.0.1
port %d
domain client.example.org
tls on
tls_starttls %s
tls_trust_file %s
auth on
user %s
password %s
from %s

account default : sealpost
""" % (tmp_path / "msmtp.log", port, "on" if starttls else "off", inst.cert,
	    ALICE, ALICE_PW, ALICE))
	os.chmod(rc, 0o600)
	return rc


@pytest.mark.parametrize("service,starttls", [("submission", True),
    ("submissions", False)], ids=["587-starttls", "465-tls"])
def test_interop_msmtp(tool, inst, tmp_path, service, starttls):
	mk = marker()
	rc = msmtprc(inst, tmp_path, inst.ports[service], starttls)
	msg = message(mk).replace(b"\r\n", b"\n")	# msmtp reads local text
	run([tool("msmtp"), "-C", str(rc), "-a", "sealpost", BOB], input=msg)
	m = delivered(inst, BOB, mk)
	assert H.split_trace(m)[1] == message(mk)
	assert re.search(r"\bwith ESMTPSA\b", received(m))
	assert re.search(r"TLS ?v?1\.[23]", received(m))
