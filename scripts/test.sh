#!/bin/sh
# Runs every test: unit tests and corpus replays in the normal and the
# ASan+UBSan build, then the protocol and interop suites against real
# sealpostd processes, once with the normal build and once sanitized.
set -eu
BUILD=${1:-build}
ASAN_BUILD=${2:-build-asan}
PYTHON=/usr/bin/python3

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

scripts/check-source.sh

echo "== unit tests ($BUILD)"
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)"
echo "== unit tests under ASan+UBSan ($ASAN_BUILD)"
ctest --test-dir "$ASAN_BUILD" --output-on-failure -j "$(nproc)"

if [ -d tests/protocol ] && ls tests/protocol/test_*.py >/dev/null 2>&1; then
	echo "== protocol and interop tests ($BUILD)"
	SEALPOST_BUILD="$PWD/$BUILD" $PYTHON -m pytest -q -p no:cacheprovider \
	    tests/protocol tests/interop tests/relay
	echo "== protocol and interop tests, sanitized server ($ASAN_BUILD)"
	SEALPOST_BUILD="$PWD/$ASAN_BUILD" SEALPOST_SANITIZED=1 $PYTHON -m pytest \
	    -q -p no:cacheprovider -m "not nosan" tests/protocol tests/interop tests/relay
fi

# Crash, disk-full, stop, overload and brute-force proofs, short form
# (`make reliability` runs the long form): normal build only, since they
# measure time and memory.
if [ -d tests/reliability ]; then
	echo "== reliability tests, short form ($BUILD)"
	SEALPOST_BUILD="$PWD/$BUILD" $PYTHON -m pytest -q -p no:cacheprovider \
	    tests/reliability
fi

# A few messages through the benchmark's load generator against sealpost
# alone (bench/bench.py, BENCH_SMOKE=1): keeps the benchmark scripts
# working; asserts only that every message is accepted and delivered, never
# a speed. Needs root (as the protocol suite does to run workers as nobody)
# and dnsmasq; skipped otherwise, and with SEALPOST_BENCH_SMOKE=0.
if [ "${SEALPOST_BENCH_SMOKE:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] &&
    [ -x /usr/sbin/dnsmasq ] && command -v cc >/dev/null 2>&1; then
	echo "== benchmark smoke run ($BUILD)"
	SEALPOST_BUILD="$PWD/$BUILD" BENCH_SMOKE=1 timeout 300 $PYTHON bench/bench.py
fi
