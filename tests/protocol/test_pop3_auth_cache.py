"""The credential cache (auth_cache_ttl, docs/performance.md): a password
verified once is remembered, but a password change takes effect at the
first login after the accounts are re-read: the old password, though
cached, is refused from then on, and the new one works."""

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pop3_support import (  # noqa: E402,F401
    SLOW, USERS, fresh_source, pop3_factory)

FRANK = "frank@example.test"


def try_login(inst, user, password):
	c = inst.client(tls=True, source=fresh_source())
	c.cmd_ok("USER " + user)
	r = c.cmd("PASS " + password)
	if r.startswith(b"+OK"):
		c.cmd_ok("QUIT")
		c.close()
		return True
	assert r.startswith(b"-ERR [AUTH]"), r
	c.close()
	return False


def test_pop3_password_change_beats_cache(pop3_factory):
	# One worker, so every login below meets the same cache.
	inst = pop3_factory({"workers": "1", "auth_cache_ttl": "1h"})
	old, new = USERS[FRANK], "frank-New-Secret-9"
	assert try_login(inst, FRANK, old)
	assert try_login(inst, FRANK, old)	# now from the cache
	assert not try_login(inst, FRANK, "frank-wrong")
	r = subprocess.run([str(inst.build / "sealpost"), "-c", str(inst.conf),
	    "user", "passwd", FRANK, "--password-stdin"],
	    input=(new + "\n").encode(), capture_output=True, timeout=60 * SLOW)
	assert r.returncode == 0, r.stderr
	# The worker re-reads the users file within 2 s.
	deadline = time.monotonic() + 10 * SLOW
	while not try_login(inst, FRANK, new):
		assert time.monotonic() < deadline, "new password never accepted"
		time.sleep(0.2)
	assert not try_login(inst, FRANK, old)
	assert try_login(inst, FRANK, new)
	assert "event=accounts-reloaded" in inst.log()


def test_pop3_relogin_right_after_quit_not_in_use(pop3_factory):
	"""With cached passwords a client is back within a millisecond of its
	QUIT; the maildrop is unlocked before +OK, so it never meets its own
	session's lock ([IN-USE]). Two workers: the next session may land
	on the other one while the first is still closing. (The race needs a
	busy machine to show; this guards the order, it cannot force it.)"""
	inst = pop3_factory({"workers": "2"})
	for _ in range(40):
		c = inst.client(tls=True, source=fresh_source())
		c.cmd_ok("USER " + FRANK)
		c.cmd_ok("PASS " + USERS[FRANK])
		c.cmd_ok("STAT")
		c.cmd_ok("QUIT")
		c.close()
