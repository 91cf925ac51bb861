"""Runs the send/expect dialogue scripts tests/protocol/smtp/*.dlg (STYLE §8)
against a live instance, and checks the optional <name>.expect beside each.

Script lines (leading/trailing blanks of a line are kept for `>`):

    # comment (blank lines are ignored too)
    = service smtp|submission|submissions   (header: where to connect; smtp)
    = source 127.0.0.2                       (header: client address; 127.0.0.2 is trusted)
    = config key value                       (header: extra sealpost.conf setting)
    > TEXT          send TEXT + CRLF; ${HOSTNAME}, ${DOMAIN} are expanded
    >> RAW          send RAW as is, with \\r \\n \\t \\\\ \\xNN escapes, no CRLF added
    < NNN [X.Y.Z] [REGEX]
                    read one (possibly multi-line) reply: code NNN, enhanced
                    code X.Y.Z if given, REGEX (if given) searched in the reply
                    text (all lines joined by newlines)
    <~ REGEX        the next reply's full text ("NNN-..." lines joined by
                    newlines) matches REGEX (re.search, multiline)
    <!              the server closes the connection (after any bytes)
    ! starttls      start TLS now (after the 220 to STARTTLS has been read)
    ! auth ADDRESS  AUTH PLAIN as a test account; expects 235 2.7.0
    ! silent SECS   no byte may arrive during SECS seconds
    ! sleep SECS

An .expect file lists what the Maildirs hold afterwards, counting only
messages that arrived during the dialogue:

    count ADDRESS N           N new messages for ADDRESS
    contains ADDRESS TEXT     some new message for ADDRESS contains TEXT
    lacks ADDRESS TEXT        no message for ADDRESS contains TEXT
    body ADDRESS <<END        the one new message for ADDRESS, after the
    ...lines...               trace fields (Return-Path, Received) the
    END                       server prepends, is exactly these lines + CRLF
"""

import re
import time
from pathlib import Path

import pytest

import sealpost_harness as H

DLG_DIR = Path(__file__).resolve().parent / "smtp"
SCRIPTS = sorted(DLG_DIR.glob("*.dlg"))

_instances = {}


def expand(s):
	return s.replace("${HOSTNAME}", H.HOSTNAME).replace("${DOMAIN}", H.DOMAIN)


class Script:
	def __init__(self, path):
		self.path = path
		self.service = "smtp"
		self.source = None
		self.config = {}
		self.steps = []		# (lineno, op, arg)
		for n, raw in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
			line = raw.rstrip("\r")
			if not line.strip() or line.lstrip().startswith("#"):
				continue
			if line.startswith("= "):
				parts = line[2:].split(None, 2)
				if parts[0] == "service":
					self.service = parts[1]
				elif parts[0] == "source":
					self.source = parts[1]
				elif parts[0] == "config":
					self.config[parts[1]] = parts[2]
				else:
					raise ValueError("%s:%d: unknown header %r" % (path, n, line))
				continue
			for op in (">>", "<~", "<!", ">", "<", "!"):
				if line.startswith(op):
					arg = line[len(op):]
					if arg.startswith(" "):
						arg = arg[1:]
					self.steps.append((n, op, arg))
					break
			else:
				raise ValueError("%s:%d: cannot parse %r" % (path, n, line))


def run_script(inst, sc):
	c = inst.client(sc.service, source=sc.source, greet=False)
	where = sc.path.name
	try:
		for n, op, arg in sc.steps:
			at = "%s:%d" % (where, n)
			if op == ">":
				c.send(expand(arg) + "\r\n")
			elif op == ">>":
				c.send(H.unescape(expand(arg)))
			elif op == "<":
				want = expand(arg).split(None, 1)
				r = c.reply()
				assert r.code == int(want[0]), "%s: expected %s, got %r" % (at, arg, r)
				rest = want[1] if len(want) > 1 else ""
				m = re.match(r"^(\d\.\d{1,3}\.\d{1,3})(?:\s+|$)(.*)$", rest)
				if m:
					assert r.enhanced == m.group(1), "%s: expected %s, got %r" % (at, arg, r)
					rest = m.group(2)
				if rest:
					assert re.search(rest, r.text), "%s: %r not in %r" % (at, rest, r)
			elif op == "<~":
				r = c.reply()
				full = "\n".join("%d%s%s" % (r.code, "-" if i < len(r.lines) - 1 else " ", t)
				    for i, t in enumerate(r.lines))
				assert re.search(expand(arg), full, re.M), "%s: %r not in %r" % (at, arg, full)
			elif op == "<!":
				c.expect_closed(timeout=5)
			elif op == "!":
				verb, _, a = arg.partition(" ")
				if verb == "starttls":
					c._wrap()
				elif verb == "auth":
					r = c.auth_plain(a, H.USERS[a])
					assert r.is_(235, "2.7.0"), "%s: AUTH as %s: %r" % (at, a, r)
				elif verb == "silent":
					assert c.nothing_pending(float(a) * H.SLOW), \
					    "%s: unexpected bytes %r" % (at, c.buf)
				elif verb == "sleep":
					time.sleep(float(a))
				else:
					raise ValueError("%s: unknown action %r" % (at, arg))
	finally:
		c.close()


def check_expect(inst, path, before):
	lines = path.read_text(encoding="utf-8").split("\n")
	i = 0

	def new_msgs(addr):
		return [m for p, m in new_messages(inst, before) if p.is_relative_to(inst.maildir(addr))]

	while i < len(lines):
		line = lines[i].rstrip("\r")
		i += 1
		if not line.strip() or line.startswith("#"):
			continue
		words = line.split(None, 2)
		kind, addr = words[0], words[1]
		if kind == "count":
			got = new_msgs(addr)
			assert len(got) == int(words[2]), "%s: %s has %d new messages, expected %s" % (
			    path.name, addr, len(got), words[2])
		elif kind == "contains":
			assert any(expand(words[2]).encode() in m for m in new_msgs(addr)), line
		elif kind == "lacks":
			assert not inst.find(addr, expand(words[2])), line
		elif kind == "body":
			term = words[2][2:]
			body = []
			while lines[i].rstrip("\r") != term:
				body.append(lines[i].rstrip("\r"))
				i += 1
			i += 1
			got = new_msgs(addr)
			assert len(got) == 1, "%s: %d new messages for %s" % (path.name, len(got), addr)
			want = "".join(expand(b) + "\r\n" for b in body).encode()
			assert H.split_trace(got[0])[1] == want, (H.split_trace(got[0])[1], want)
		else:
			raise ValueError("%s: unknown expectation %r" % (path, line))


def new_messages(inst, before):
	return [(p, m) for p, m in inst.all_messages() if p not in before]


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_dialogue(module_factory, path):
	sc = Script(path)
	key = tuple(sorted(sc.config.items()))
	if key not in _instances or not _instances[key].running():
		_instances[key] = module_factory(dict(sc.config), name="dlg")
	inst = _instances[key]
	before = {p for p, _ in inst.all_messages()}
	run_script(inst, sc)
	exp = path.with_suffix(".expect")
	if exp.exists():
		check_expect(inst, exp, before)


def test_dialogue_scripts_exist():
	assert len(SCRIPTS) >= 10, SCRIPTS
