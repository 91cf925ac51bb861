"""Fixtures for the relay suite: the protocol suite's harness (instances,
fake DNS, sanitizer check) imported from tests/protocol."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "protocol"))

from sealpost_harness import (  # noqa: E402,F401
    dns_server, inst, make_instance, module_factory, sanitizer_check,
    sealpost_build)
