#!/bin/sh
# Keeps STYLE.md's list of banned calls honest: unbounded or error-blind C
# library functions do not appear in src/, tests/unit/ or fuzz/. A line
# that really needs one says so with a "style-ok:" comment and a reason.
set -eu
cd "$(dirname "$0")/.."
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|strncpy|sscanf)[[:space:]]*\('
hits=$(grep -rnE "$pattern" src tests/unit fuzz --include='*.c' --include='*.h' \
    | grep -v 'style-ok:' || true)
if [ -n "$hits" ]; then
	echo "check-source: banned calls (see STYLE.md section 3):"
	echo "$hits"
	exit 1
fi
echo "check-source: ok"
