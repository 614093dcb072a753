#!/bin/bash
# run-watch.sh: how long a host edit takes to reach a file watcher in the
# guest (issue #14), next to what the host's own inotify gives for the same
# changes.  One TCG VM; the watcher is tests/launch/watch_probe (inotify)
# run through `launch` in the guest, and the same program on the host.
# Workloads (bench/watch_latency.py): 20 single creates 300 ms apart,
# bursts of 1, 100 and 10,000 creates, a steady 50 creates/s for 10 s, and
# 20 editor saves (--saves N: N) (temp file renamed over) watched by a nodemon-style Node
# watcher (tests/launch/watch_node.js rerun) that reruns and reads the
# file, and the same saves made inside the guest on its own disk
# ("guest-local": what the emulated guest alone costs Node).  Each
# latency runs from just before the host change to the
# watcher's line reaching the host on launch's stdout, so the guest's
# figures include the way back: an upper bound.  Prints a table (ms) and
# writes it, the raw lines and a PNG plot (gnuplot) to the output dir.
#
#   bench/run-watch.sh [--busy] [--saves N] [-o DIR]   (from the build directory)
#     --busy     keep the other CPU busy during the run (a shell loop)
#     --saves N  N editor saves for the Node watchers (default 20)
set -u

PROG=${0##*/}
CMDLINE=$0; [ $# -gt 0 ] && CMDLINE+=$(printf ' %q' "$@")
HERE=$(cd "$(dirname "$0")" && pwd)
B=${top_builddir:-$PWD}
LAUNCH=$B/launcher/launch
PROBE=$B/tests/launch/watch_probe
NODE_JS=$HERE/../tests/launch/watch_node.js
BUSY=
OUT=
SAVES=20

while [ $# -gt 0 ]; do
	case $1 in
	--busy) BUSY=1 ;;
	-o) [ $# -ge 2 ] || { echo "$PROG: -o needs a directory" >&2; exit 2; }; OUT=$2; shift ;;
	--saves) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "$PROG: --saves needs a positive number" >&2; exit 2; }; SAVES=$2; shift ;;
	-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "$PROG: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
for f in "$LAUNCH" "$PROBE"; do
	[ -x "$f" ] || { echo "$PROG: $f not built (make launcher/launch tests/launch/watch_probe)" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "$PROG: python3 missing" >&2; exit 1; }
OUT=${OUT:-watch-report-$(date -u +%Y%m%d-%H%M)}
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)

state=$(mktemp -d /tmp/fsb-wbench.XXXXXX)
proj=$(mktemp -d /tmp/fsb-wproj.XXXXXX)
busy_pid=
cleanup() {
	[ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null
	"$LAUNCH" --state "$state" -q halt -f >/dev/null 2>&1
	rm -rf --one-file-system "$state" "$proj"
}
trap cleanup EXIT
mkdir -p "$proj/.git"
cp "$NODE_JS" "$proj/.watch_node.js"
cd "$proj" || exit 1
L() { "$LAUNCH" --state "$state" --accel tcg "$@"; }

L -q -- true || { echo "$PROG: launch failed" >&2; exit 1; }
L -- test -e /dev/fsb_notify ||
	{ echo "$PROG: the guest has no fsb_notify (see launch doctor)" >&2; exit 1; }
[ -n "$BUSY" ] && { ( while :; do :; done ) & busy_pid=$!; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
raw=$OUT/watch.raw
: > "$raw"
lat() { python3 "$HERE/watch_latency.py" --out "$raw" "$@"; }

for where in host guest; do
	run=(); [ "$where" = guest ] && run=("$LAUNCH" --state "$state" --accel tcg --)
	d=$proj/$where; mkdir -p "$d"
	lat --dir "$d" --label "$where" --burst 1 --burst 100 --burst 10000 \
		--steady 50:10 -- "${run[@]}" "$PROBE" -r -t 1200 "$d"
	if command -v node >/dev/null; then
		d=$proj/$where-node; mkdir -p "$d"
		echo start > "$d/target.txt"
		lat --dir "$d" --label "$where" --single 0 --saves "$SAVES" -- \
			"${run[@]}" node "$proj/.watch_node.js" rerun "$d" "$d/target.txt"
	fi
done
# what the emulated guest alone costs: the same saves made in the guest, on
# its own disk (/tmp there is the overlay's tmpfs), timed in the guest
if command -v node >/dev/null; then
	L -- sh -c 'mkdir -p /tmp/fsb-local && echo start > /tmp/fsb-local/target.txt &&
		exec python3 "$1" --dir /tmp/fsb-local --label guest-local --out /tmp/fsb-local.raw \
		--single 0 --saves "$3" -- node "$2" rerun /tmp/fsb-local /tmp/fsb-local/target.txt' \
		_ "$HERE/watch_latency.py" "$proj/.watch_node.js" "$SAVES" | grep '^guest-local ' >> "$raw"
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)

{
	echo "# Host edit -> watcher event (ms)"
	echo
	echo "Command: \`$CMDLINE\` (from the build directory)."
	echo "Machine: $(nproc) CPUs, kernel $(uname -r), guest under TCG; load average $load0 before, $load1 after${BUSY:+; the other CPU kept busy}."
	echo
	echo "| watcher | workload | changes | p50 | p90 | p99 | max | lost | overflow |"
	echo "|---|---|---|---|---|---|---|---|---|"
	awk '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$raw"
} > "$OUT/watch.md"
cat "$OUT/watch.md"

if command -v gnuplot >/dev/null; then
	awk '$1 == "host" { h[$2] = $6 } $1 == "guest" { g[$2] = $6; o[++n] = $2 }
	     END { for (i = 1; i <= n; i++) print o[i], (o[i] in h ? h[o[i]] : 0), g[o[i]] }' \
		"$raw" > "$OUT/watch.dat"
	gnuplot <<EOF
set terminal pngcairo size 900,420 noenhanced
set output "$OUT/watch.png"
set title "Host edit to watcher event, p99 (ms): host inotify vs a watcher in the guest (fsb_notify)"
set style data histograms
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set ylabel "ms (p99)"
set logscale y
set yrange [0.01:*]
set grid ytics
plot "$OUT/watch.dat" using 2:xtic(1) title "host inotify", '' using 3 title "guest (launch)"
EOF
	echo "plot: $OUT/watch.png"
fi
