#!/bin/sh
# fuzz.sh: make check's bounded fuzzing run: each vhost fuzz target
# (descriptor-chain walker, vhost-user message parser) under libFuzzer
# with ASan and UBSan for FUZZ_SECONDS (default 20) seconds.  TAP.
secs=${FUZZ_SECONDS:-20}
if ! command -v clang >/dev/null 2>&1; then
	echo "1..0 # SKIP clang not installed (apt-get install clang libclang-rt-14-dev)"
	exit 0
fi
work=$(mktemp -d /tmp/fsb-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "1..1"
if sh "${top_srcdir:-.}/tests/fuzz/run-fuzz.sh" "$secs" "$work" > "$work/out" 2>&1; then
	echo "ok 1 - both fuzz targets ran ${secs} s each under ASan+UBSan without a crash"
	grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$work/out" | sed 's/^/# /' | head -4
else
	echo "not ok 1 - a fuzz target crashed or failed to build"
	tail -40 "$work/out" | sed 's/^/# /'
fi
