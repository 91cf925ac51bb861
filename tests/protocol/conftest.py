"""Fixtures for the protocol suite (defined in sealpost_harness so that the
interop suite shares them): one fake DNS server (dnsmasq on loopback) per
test session, `inst` = a default sealpost instance per test module,
`make_instance({key: value})` = an instance private to one test with extra
configuration, and after every test a check of each running server's stderr
for ASan, UBSan and LeakSanitizer reports.

SEALPOST_BUILD names the build directory holding `sealpostd` and `sealpost`
(scripts/test.sh sets it); unset, ./build is tried and the suite is skipped
when it holds no binaries. SEALPOST_SANITIZED=1 says the binaries are
ASan/UBSan builds: timeouts are stretched and `nosan` tests deselected by
the runner.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sealpost_harness import (  # noqa: E402,F401
    dns_server, inst, make_instance, module_factory, sanitizer_check,
    sealpost_build)
