# Thin wrapper over CMake. `make run` and `make test` are the README's
# quick start; both install what they need first (scripts/deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
RUN_DIR    ?= run

.PHONY: all build asan deps run test reliability fuzz bench bench-smoke clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory -s

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSEALPOST_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) -- --no-print-directory -s

deps:
	@scripts/deps.sh

run: deps build
	@scripts/run-dev.sh $(BUILD) $(RUN_DIR)

test: deps build asan
	@scripts/test.sh $(BUILD) $(ASAN_BUILD)

# The long form of tests/reliability (10,000 messages under SIGKILL,
# 10,000 idle connections, ...); figures are printed, see docs/testing.md.
reliability: deps build
	@SEALPOST_BUILD=$(CURDIR)/$(BUILD) SEALPOST_LONG=1 /usr/bin/python3 -m pytest \
	    -q -s -p no:cacheprovider tests/reliability

# Side-by-side benchmark against Postfix and Dovecot (bench/bench.py,
# issue 7): BENCH_FULL=1 for the full matrix. Needs root.
bench: deps build
	@/usr/bin/python3 bench/bench.py

bench-smoke: build
	@BENCH_SMOKE=1 /usr/bin/python3 bench/bench.py

fuzz: deps
	@scripts/fuzz.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
