"""DKIM interop with an independent implementation, dkimpy (Debian's
python3-dkim, with python3-nacl for ed25519): dkimpy verifies what
sealpost's signer writes, and sealpost's verifier accepts what dkimpy
signs, for rsa-sha256 and ed25519-sha256 and every canonicalization pair.
No DNS server: dkimpy gets the key records through its dnsfunc argument,
sealpost's side is tests/tools/dkim_tool.c, which takes them as arguments.
Also: keys made by `sealpost dkim keygen` and the records `sealpost dns`
prints work with dkimpy."""

import base64
import re
import subprocess

import pytest

dkim = pytest.importorskip("dkim", reason="python3-dkim not installed "
    "(scripts/deps.sh installs it)")
pytest.importorskip("nacl", reason="python3-nacl not installed")
serialization = pytest.importorskip("cryptography.hazmat.primitives."
    "serialization")

DOMAIN = b"example.com"
CANONS = ["simple/simple", "simple/relaxed", "relaxed/simple",
    "relaxed/relaxed"]

MESSAGE = (b"From: Joe SixPack <joe@example.com>\r\n"
    b"To: Suzie Q <suzie@shopping.example.net>,\r\n"
    b"\tothers@example.net\r\n"
    b"Subject:   Is dinner  ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Hi.  \r\n"
    b"\r\n"
    b"We lost the game.\tAre you hungry yet?\r\n"
    b"\r\n"
    b"Joe.\r\n"
    b"\r\n\r\n")


@pytest.fixture(scope="module")
def tool(sealpost_build):
	path = sealpost_build / "dkim_tool"
	if not path.exists():
		pytest.skip("dkim_tool not built")
	return str(path)


@pytest.fixture(scope="module")
def keys(tool, tmp_path_factory):
	"""selector -> (key file, key record, key for dkimpy.sign)."""
	d = tmp_path_factory.mktemp("dkimkeys")
	out = {}
	for sel, alg in (("ed", "ed25519"), ("rsa", "rsa")):
		path = d / (sel + ".pem")
		rec = subprocess.run([tool, "keygen", alg, str(path)], check=True,
		    capture_output=True).stdout.strip()
		pem = path.read_bytes()
		if alg == "ed25519":
			# dkimpy wants the raw 32-octet seed, base64.
			k = serialization.load_pem_private_key(pem, None)
			pem = base64.b64encode(k.private_bytes(
			    serialization.Encoding.Raw,
			    serialization.PrivateFormat.Raw,
			    serialization.NoEncryption()))
		out[sel] = (str(path), rec, pem)
	return out


def dnsfunc_for(records):
	def dnsfunc(name, timeout=5):
		return records.get(name.rstrip(b".").decode())
	return dnsfunc


def records_of(keys):
	return {"%s._domainkey.example.com" % sel: rec
	    for sel, (_, rec, _) in keys.items()}


def sealpost_sign(tool, keys, canon, msg=MESSAGE, sels=("ed", "rsa")):
	files = ",".join(keys[s][0] for s in sels)
	return subprocess.run([tool, "sign", files, "example.com",
	    ",".join(sels), canon], input=msg, check=True,
	    capture_output=True).stdout


def sealpost_verify(tool, keys, msg):
	args = ["%s=%s" % (q, r.decode()) for q, r in records_of(keys).items()]
	r = subprocess.run([tool, "verify"] + args, input=msg,
	    capture_output=True)
	return r.returncode, r.stdout.decode().splitlines()


def dkimpy_verify_all(signed, records):
	d = dkim.DKIM(signed)
	n = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
	assert n > 0
	out = []
	for i in range(n):
		try:
			out.append(d.verify(idx=i, dnsfunc=dnsfunc_for(records)))
		except dkim.ValidationError:
			out.append(False)	# body hash mismatch raises
	return out


@pytest.mark.parametrize("canon", CANONS)
def test_dkimpy_verifies_sealpost_signatures(tool, keys, canon):
	"""One message, signed by sealpost with both keys (dual signing)."""
	signed = sealpost_sign(tool, keys, canon)
	assert signed.count(b"DKIM-Signature:") == 2
	assert b"c=%s;" % canon.encode() in signed
	assert dkimpy_verify_all(signed, records_of(keys)) == [True, True]
	# dkimpy notices a changed body.
	bad = signed.replace(b"We lost", b"We won")
	assert dkimpy_verify_all(bad, records_of(keys)) == [False, False]


@pytest.mark.parametrize("canon", CANONS)
@pytest.mark.parametrize("sel,alg", [("ed", b"ed25519-sha256"),
    ("rsa", b"rsa-sha256")])
def test_sealpost_verifies_dkimpy_signatures(tool, keys, canon, sel, alg):
	h, b = canon.encode().split(b"/")
	sig = dkim.sign(MESSAGE, sel.encode(), DOMAIN, keys[sel][2],
	    signature_algorithm=alg, canonicalize=(h, b))
	rc, lines = sealpost_verify(tool, keys, sig + MESSAGE)
	assert rc == 0, lines
	assert lines[0].startswith("pass d=example.com s=%s a=%s " %
	    (sel, alg.decode())), lines
	# And sealpost notices a changed header.
	rc, lines = sealpost_verify(tool, keys,
	    (sig + MESSAGE).replace(b"dinner", b"lunch"))
	assert rc == 1 and lines[0].startswith("fail "), lines


def test_sealpost_verifies_dkimpy_length_and_sha1(tool, keys):
	"""l= (body beyond it is not covered: still passes, flagged) and
	rsa-sha1 (verified, flagged weak)."""
	sig = dkim.sign(MESSAGE, b"rsa", DOMAIN, keys["rsa"][2], length=True,
	    signature_algorithm=b"rsa-sha256")
	assert b"l=" in sig
	rc, lines = sealpost_verify(tool, keys, sig + MESSAGE +
	    b"Appended by a list.\r\n")
	assert rc == 0 and " l " in lines[0], lines
	sig = dkim.sign(MESSAGE, b"rsa", DOMAIN, keys["rsa"][2],
	    signature_algorithm=b"rsa-sha1")
	rc, lines = sealpost_verify(tool, keys, sig + MESSAGE)
	assert rc == 0 and " weak " in lines[0], lines
	assert "a=rsa-sha1" in lines[0]


def test_sealpost_verifies_dkimpy_oversigned_from(tool, keys):
	"""dkimpy lists From twice: a From added on top breaks it."""
	sig = dkim.sign(MESSAGE, b"ed", DOMAIN, keys["ed"][2],
	    signature_algorithm=b"ed25519-sha256",
	    include_headers=[b"from", b"from", b"to", b"subject"])
	rc, lines = sealpost_verify(tool, keys, sig + MESSAGE)
	assert rc == 0, lines
	forged = sig + b"From: Mallory <m@evil.example>\r\n" + MESSAGE
	rc, lines = sealpost_verify(tool, keys, forged)
	assert rc == 1 and lines[0].startswith("fail "), lines


def zone_txt(text):
	"""{name: record} from `sealpost dns` zone lines, strings joined."""
	out = {}
	for line in text.splitlines():
		m = re.match(r'^(\S+)\tIN TXT\t\( (.*) \)$', line)
		if m:
			out[m.group(1).rstrip(".")] = "".join(
			    re.findall(r'"([^"]*)"', m.group(2))).encode()
	return out


def test_cli_keygen_records_work_with_dkimpy(make_instance, tool):
	"""`sealpost dkim keygen` for both algorithms; `sealpost dns` and
	`sealpost dkim list` print the records; published as printed they
	let dkimpy verify what the key files sign."""
	inst = make_instance(start=False)
	r = inst.cli("dns", "example.test")
	assert b"sealpost dkim keygen example.test" in r.stdout
	for alg, sel in (("rsa2048", "rsa1"), ("ed25519", None)):
		args = ["dkim", "keygen", "example.test", "--algorithm", alg]
		if sel:
			args += ["--selector", sel]
		out = inst.cli(*args).stdout.decode()
		assert "._domainkey.example.test.\tIN TXT\t(" in out, out
	keydir = inst.data / "dkim" / "example.test"
	files = sorted(p.name for p in keydir.iterdir())
	assert len(files) == 2 and "rsa1.pem" in files, files
	ed = [f for f in files if f.startswith("ed")][0]
	assert (keydir / ed).stat().st_mode & 0o777 == 0o600
	# The same selector twice is refused; a bad selector too.
	r = inst.cli("dkim", "keygen", "example.test", "--selector", "rsa1",
	    check=False)
	assert r.returncode == 1 and b"exists" in r.stderr
	r = inst.cli("dkim", "keygen", "example.test", "--selector", "../x",
	    check=False)
	assert r.returncode == 2
	r = inst.cli("dkim", "keygen", "example.org", check=False)
	assert r.returncode == 1

	records = zone_txt(inst.cli("dns").stdout.decode())
	listed = zone_txt(inst.cli("dkim", "list").stdout.decode())
	assert records == listed and len(records) == 2, records
	sels = [f[:-4] for f in files]
	signed = subprocess.run([tool, "sign",
	    ",".join(str(keydir / f) for f in files), "example.test",
	    ",".join(sels)], input=MESSAGE, check=True,
	    capture_output=True).stdout
	assert dkimpy_verify_all(signed, records) == [True, True]
