"""Fixtures for the reliability suite: the protocol suite's harness
(tests/protocol/sealpost_harness.py: hermetic DNS, real sealpostd
instances, raw SMTP client, sanitizer check after every test) plus the
knobs of this suite.

SEALPOST_LONG=1 (`make reliability`) selects the long form: more
messages, connections and guesses. Without it (`make test`) every test
runs a short form that still proves the property, only with smaller
numbers. Figures are printed (run pytest with -s to see them) and
recorded in docs/testing.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))

from sealpost_harness import (  # noqa: E402,F401
    dns_server, inst, make_instance, module_factory, sanitizer_check,
    sealpost_build)
from rel_support import LONG  # noqa: E402


def pytest_report_header(config):
	return "sealpost reliability: %s form" % ("long" if LONG else "short")
