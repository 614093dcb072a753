#!/bin/bash
# run-launch.sh: what `launch` costs on this machine: the first
# `launch -- true` of a state dir (guest image built, boot, state saved),
# warm `launch -- true` on the running VM (p50/p99 over N runs), then a
# stopped VM started R times by restoring the saved state and R times by
# booting (--cold), p50 of each, and the memory (RSS) of an idle restored
# QEMU against a booted one.  The load average goes with the numbers:
# TCG guests slow down several times on a busy machine.
#
#   bench/run-launch.sh [N [R]]      (from the build dir; default 50 5)
set -u
case ${1:-} in
-h|--help)
	sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0 ;;
esac
N=${1:-50}
R=${2:-5}
B=${top_builddir:-$PWD}
LAUNCH=$B/launcher/launch
state=$(mktemp -d /tmp/fsb-lbench.XXXXXX)
proj=$(mktemp -d /tmp/fsb-lproj.XXXXXX)
trap '"$LAUNCH" --state "$state" halt -f >/dev/null 2>&1; rm -rf "$state" "$proj"' EXIT
export PATH="$B/fsbridge:$B/guest-overlay:$PATH"
cd "$proj" || exit 1
# warm start is the default; an FSBRIDGE_WARM=0 from outside would turn
# the restores into boots
unset FSBRIDGE_WARM
L() { "$LAUNCH" --state "$state" "$@"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'; }
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p + 0.5); if (i < 1) i = 1; print v[i] }'; }
rss_mib() {
	local sup qemu
	sup=$(cat "$state/pid" 2>/dev/null)
	qemu=$(pgrep -P "$sup" -f qemu-system | head -1)
	awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$qemu/status" 2>/dev/null
}
one() {   # one `launch OPTS -- true`, its time in ms
	local t0=$EPOCHREALTIME
	L -q "$@" -n -- true || { echo "run-launch.sh: launch failed" >&2; exit 1; }
	ms "$t0" "$EPOCHREALTIME"
}
next_ready() { for _ in $(seq 600); do [ -e "$state/warm/default/mem.next" ] && return; sleep 0.2; done; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

load0=$(load)
first=$(one)
for _ in $(seq "$N"); do one; done > "$state/warm.txt"
p50=$(pct 0.5 < "$state/warm.txt")
p99=$(pct 0.99 < "$state/warm.txt")
for _ in $(seq "$R"); do
	L -q halt; next_ready; sleep 1
	one
done > "$state/restore.txt"
sleep 5; rss_restored=$(rss_mib)
for _ in $(seq "$R"); do
	L -q halt
	one --cold
done > "$state/boot.txt"
sleep 5; rss_booted=$(rss_mib)
echo "launch on this machine ($(nproc) cores, $(uname -r), TCG): $(date -u +%F)"
echo "Command: bench/run-launch.sh $N $R; load average $load0 at the start, $(load) at the end"
echo
echo "| measure | value |"
echo "| --- | ---: |"
echo "| first \`launch -- true\` of a state dir (image built, boot, state saved) | $first ms |"
echo "| \`launch -- true\` of a stopped VM, restored from the saved state, p50 of $R | $(pct 0.5 < "$state/restore.txt") ms |"
echo "| \`launch -- true\` of a stopped VM, booted (--cold), p50 of $R | $(pct 0.5 < "$state/boot.txt") ms |"
echo "| warm \`launch -- true\` (running VM), p50 of $N | $p50 ms |"
echo "| warm \`launch -- true\` (running VM), p99 of $N | $p99 ms |"
echo "| QEMU RSS, idle restored guest | $rss_restored MiB |"
echo "| QEMU RSS, idle booted guest (--cold) | $rss_booted MiB |"
echo "(guest memory $(cat "$state/mem" 2>/dev/null || echo 1024) MiB; restores: $(tr '\n' ' ' < "$state/restore.txt")ms; boots: $(tr '\n' ' ' < "$state/boot.txt")ms)"
