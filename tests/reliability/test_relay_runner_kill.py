"""Issue 5's queue test, long form (`make reliability`): 1,000 messages
queued for a second instance, the queue runner alone killed with SIGKILL
five times during delivery (the master restarts it); every message must
arrive at least once. Duplicates are counted and printed (docs/testing.md
records them). The short form (100 messages, 3 kills) runs in make test
from tests/relay/test_relay_crash.py."""

import sys
from pathlib import Path

import pytest

from rel_support import LONG

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "relay"))

from relay_support import kill_runner_during_delivery  # noqa: E402

N = 1000
KILLS = 5


@pytest.mark.skipif(not LONG, reason="long form only (SEALPOST_LONG=1); "
    "tests/relay runs the short form")
def test_relay_runner_kill9_1000_messages(make_instance):
	lost, dups, kills, at = kill_runner_during_delivery(make_instance, N,
	    KILLS)
	print("\nrunner kill -9 x%d during %d messages: lost %d, duplicates %d"
	    % (kills, N, len(lost), dups))
	assert lost == [], "lost %d messages" % len(lost)
