"""Fixtures for the interop suite: the same ones as tests/protocol (see
tests/protocol/sealpost_harness.py), plus helpers to find client tools."""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))

from sealpost_harness import (  # noqa: E402,F401
    dns_server, inst, make_instance, module_factory, sanitizer_check,
    sealpost_build)


@pytest.fixture
def tool():
	"""tool("swaks") -> path, or a clean skip when it is not installed."""
	def find(name):
		p = shutil.which(name)
		if p is None:
			pytest.skip("%s not installed (scripts/deps.sh installs it)" % name)
		return p
	return find
