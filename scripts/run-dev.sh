#!/bin/sh
# `make run`: creates a development instance under ./run on first use
# (self-signed certificate, unprivileged ports, a demo account whose
# password is printed once), then runs sealpostd in the foreground.
set -eu
BUILD=${1:-build}
RUN_DIR=${2:-run}

if [ ! -f "$RUN_DIR/sealpost.conf" ]; then
	"$BUILD/sealpost" init "$RUN_DIR" --hostname localhost \
	    --domain example.test --port-base 10000
	echo
	echo "Creating the demo account demo@example.test:"
	"$BUILD/sealpost" -c "$RUN_DIR/sealpost.conf" user add demo@example.test \
	    --generate-password
	echo "(the password is shown only this once)"
	# RFC 5321 4.5.1: every domain must accept mail for postmaster.
	"$BUILD/sealpost" -c "$RUN_DIR/sealpost.conf" alias add \
	    postmaster@example.test demo@example.test
	echo
fi
exec "$BUILD/sealpostd" -c "$RUN_DIR/sealpost.conf"
