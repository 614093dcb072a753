#!/bin/sh
# run-fuzz: build the vhost fuzz targets with libFuzzer + ASan + UBSan and
# run each for a bounded time.  Exits non-zero when a target crashes (the
# crashing input is left in the work directory and named in the output).
#
#   sh tests/fuzz/run-fuzz.sh [SECONDS_PER_TARGET] [WORKDIR]
#
# Needs clang with its fuzzer runtime (Debian: clang, libclang-rt-14-dev).
set -eu

secs=${1:-30}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=${2:-${TMPDIR:-/tmp}/fsbridge-fuzz}
CC=${CC:-clang}
targets="fuzz_desc_chain fuzz_vhost_msg"

if ! command -v "$CC" >/dev/null 2>&1; then
	echo "run-fuzz: $CC not found (Debian: apt-get install clang)" >&2
	exit 2
fi
mkdir -p "$work"
# The sources include config.h; all they need from it is _GNU_SOURCE.
printf '#define _GNU_SOURCE 1\n' >"$work/config.h"

flags="-std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
incs="-I$work -I$top -I$top/fsbridge"
lib_src=$(ls "$top"/fsbridge/vhost/*.c)

status=0
for t in $targets; do
	echo "== $t: building"
	# shellcheck disable=SC2086
	$CC $flags $incs -o "$work/$t" "$top/tests/fuzz/$t.c" $lib_src -lpthread
	rm -rf "$work/$t.corpus"
	mkdir -p "$work/$t.corpus" "$work/$t.artifacts"
	cp "$top/tests/fuzz/corpus/$t/"* "$work/$t.corpus/"
	echo "== $t: fuzzing for ${secs}s"
	if ! "$work/$t" -max_total_time="$secs" -max_len=70000 -timeout=10 \
		-artifact_prefix="$work/$t.artifacts/" -print_final_stats=1 \
		"$work/$t.corpus" >"$work/$t.log" 2>&1; then
		status=1
		echo "== $t: CRASH, see $work/$t.log and $work/$t.artifacts/" >&2
		tail -40 "$work/$t.log" >&2
		continue
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
	cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -1)
	echo "== $t: ok, $runs runs, $rate exec/s, $cov"
done
exit $status
