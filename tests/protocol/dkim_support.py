"""Helpers for the DKIM and DMARC protocol tests: keys and signatures made
with dkimpy (Debian's python3-dkim, with python3-nacl for ed25519), an
independent implementation, and a reader for the Authentication-Results
field sealpost writes. Tests that need dkimpy skip cleanly without it."""

import base64
import re
import subprocess

import pytest

import sealpost_harness as H

dkim = pytest.importorskip("dkim")
nacl_signing = pytest.importorskip("nacl.signing")


def rsa_key():
	"""(PEM private key bytes, key record) for a new 2048-bit RSA key."""
	pem = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
	    "-pkeyopt", "rsa_keygen_bits:2048"], capture_output=True,
	    check=True).stdout
	der = subprocess.run(["openssl", "pkey", "-pubout", "-outform", "DER"],
	    input=pem, capture_output=True, check=True).stdout
	return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def ed25519_key():
	"""(base64 seed as dkimpy takes it, key record) for a new Ed25519 key
	(RFC 8463: p= is the raw 32-byte public key)."""
	sk = nacl_signing.SigningKey.generate()
	seed = base64.b64encode(bytes(sk))
	pub = base64.b64encode(bytes(sk.verify_key)).decode()
	return seed, "v=DKIM1; k=ed25519; p=" + pub


def sign(msg, domain, selector, key, alg=b"rsa-sha256",
    canon=(b"relaxed", b"relaxed")):
	"""msg with dkimpy's DKIM-Signature field in front."""
	sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
	    signature_algorithm=alg, canonicalize=canon, linesep=b"\r\n")
	return sig + msg


def zone_records(text):
	"""The TXT strings of `sealpost dkim keygen`'s zone line
	`sel._domainkey.d.  IN TXT  ( "..." "..." )`: {name: record}."""
	out = {}
	for line in text.splitlines():
		m = re.match(r"^(\S+)\.\s+IN\s+TXT\s+\(?\s*(.*?)\s*\)?\s*$", line)
		if m and "_domainkey" in m.group(1):
			out[m.group(1).lower()] = "".join(re.findall(r'"([^"]*)"',
			    m.group(2)))
	return out


def auth_results(msg):
	"""The values of the message's Authentication-Results fields."""
	return H.header_fields(msg).get("authentication-results", [])


def ar_clauses(msg, method):
	"""The clauses of our one Authentication-Results field for method
	("spf", "dkim", "dmarc"), e.g. ["dkim=pass header.d=example.org ..."]."""
	ars = [v for v in auth_results(msg) if v.startswith(H.HOSTNAME + ";")]
	assert len(ars) == 1, auth_results(msg)
	parts = [p.strip() for p in ars[0].split(";")[1:]]
	return [p for p in parts if p.startswith(method + "=")]


def deliver(inst, msg, sender="someone@example.org",
    rcpt="alice@example.test", source=None, bdat=False):
	"""Sends msg (bytes) over port 25; returns (final reply, stored copy
	for rcpt or None). Finds the copy by its Message-ID marker."""
	mk = re.search(rb"Message-ID: <([^@>]+)@", msg).group(1).decode()
	c = inst.client(source=source)
	c.ehlo()
	if bdat:
		assert c.cmd("MAIL FROM:<%s>" % sender).code == 250
		assert c.cmd("RCPT TO:<%s>" % rcpt).code == 250
		half = len(msg) // 2
		c.send(b"BDAT %d\r\n" % half + msg[:half])
		assert c.reply().code == 250
		c.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
		r = c.reply()
	else:
		r = c.mail_message(sender, [rcpt], msg)
	c.quit()
	if r.code != 250:
		return r, None
	got = inst.find(rcpt, mk)
	assert len(got) == 1
	return r, got[0]


def message(mk, sender="someone@example.org", extra="", body=None):
	"""A test message (bytes) with mk in its Message-ID."""
	return H.simple_message(mk, sender=sender, extra_headers=extra,
	    body=body)
