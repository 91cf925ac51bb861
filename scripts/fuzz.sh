#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) into build-fuzz and
# runs each for FUZZ_SECONDS (default 60) on its committed seed corpus.
# New inputs go to build-fuzz/corpus/<name>/ (never into fuzz/corpus), and
# crashes to build-fuzz/artifacts/; copy a crash into fuzz/corpus/<name>/
# once fixed so the replay tests keep it fixed.
#   FUZZ_SECONDS=300 scripts/fuzz.sh            all targets
#   scripts/fuzz.sh fuzz_data fuzz_header       only these
set -eu
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-60}
CC=${CC:-clang}

case "$($CC --version 2>/dev/null | head -n 1)" in
*clang*) ;;
*)	echo "fuzz.sh: libFuzzer needs clang (CC=$CC)" >&2; exit 1 ;;
esac

# -fsanitize=fuzzer-no-link: CMakeLists.txt instruments only the fuzz
# target files, but the code under test is in sealpost_lib; without
# coverage there libFuzzer is blind. clang's -Wformat=2 also flags
# va_list wrappers lacking a format attribute (gcc does not); keep that
# one a warning so a missing attribute elsewhere does not stop fuzzing.
CC=$CC cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSEALPOST_FUZZ=ON \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link -Wno-error=format-nonliteral" \
    >/dev/null

if [ $# -gt 0 ]; then
	targets=$*
else
	targets=$(cd fuzz && ls fuzz_*.c | sed 's/\.c$//')
fi
# Only the fuzz targets: the unit tests are built (with gcc) by make test,
# and some carry gcc-only pragmas clang rejects under -Werror.
# shellcheck disable=SC2086
cmake --build "$BUILD" -j "$(nproc)" --target $targets

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p "$BUILD/artifacts"
status=0
for t in $targets; do
	name=${t#fuzz_}
	seeds=fuzz/corpus/$name
	work=$BUILD/corpus/$name
	mkdir -p "$work"
	dict=
	[ -f "fuzz/$t.dict" ] && dict=-dict=fuzz/$t.dict
	echo "== $t for ${SECONDS_EACH}s (seeds: $seeds)"
	if ! "$BUILD/$t" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
	    -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$BUILD/artifacts/$t-" $dict "$work" "$seeds"; then
		echo "== $t FAILED; see $BUILD/artifacts/" >&2
		status=1
	fi
done
exit $status
