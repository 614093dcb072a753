#!/bin/bash
# run-launch.sh: what `launch` costs on this machine: a cold
# `launch -- true` (boot to exit; the first with the guest image to build,
# then one with it cached), warm `launch -- true` on the running VM
# (p50/p99 over N runs), and the memory of QEMU and the supervisor
# (with its two file servers).  Uses a private state directory.
#
#   bench/run-launch.sh [N]      (from the build dir; default 50)
set -u
N=${1:-50}
B=${top_builddir:-$PWD}
LAUNCH=$B/launcher/launch
state=$(mktemp -d /tmp/fsb-lbench.XXXXXX)
proj=$(mktemp -d /tmp/fsb-lproj.XXXXXX)
trap '"$LAUNCH" --state "$state" halt -f >/dev/null 2>&1; rm -rf "$state" "$proj"' EXIT
export PATH="$B/fsbridge:$B/guest-overlay:$PATH"
cd "$proj" || exit 1
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

t0=$EPOCHREALTIME
"$LAUNCH" --state "$state" -q -- true || { echo "run-launch.sh: launch failed" >&2; exit 1; }
cold=$(ms "$t0" "$EPOCHREALTIME")
for i in $(seq "$N"); do
	t0=$EPOCHREALTIME
	"$LAUNCH" --state "$state" -n -- true
	echo "$(ms "$t0" "$EPOCHREALTIME")"
done | sort -n > "$state/warm.txt"
p50=$(awk -v n="$N" 'NR == int(n * 0.5 + 0.5) { print }' "$state/warm.txt")
p99=$(awk -v n="$N" 'NR == int(n * 0.99 + 0.5) { print }' "$state/warm.txt")
sup=$(cat "$state/pid" 2>/dev/null)
rss_kb() { awk '/^VmRSS/ { s += $2 } END { print s + 0 }' $(for p in "$@"; do echo /proc/$p/status; done) 2>/dev/null; }
qemu=$(pgrep -P "$sup" -f qemu-system | head -1)
servers=$(pgrep -P "$sup" -f 'fsbridge serve' | tr '\n' ' ')
qemu_mib=$(( $(rss_kb $qemu) / 1024 ))
sup_mib=$(( $(rss_kb $sup $servers) / 1024 ))
# a second cold boot, the guest image now built and cached
"$LAUNCH" --state "$state" -q halt
t0=$EPOCHREALTIME
"$LAUNCH" --state "$state" -q -- true || { echo "run-launch.sh: launch failed" >&2; exit 1; }
cold2=$(ms "$t0" "$EPOCHREALTIME")
echo "launch on this machine ($(nproc) cores, $(uname -r), TCG): $(date -u +%F)"
echo "Command: bench/run-launch.sh $N"
echo
echo "| measure | value |"
echo "| --- | ---: |"
echo "| cold \`launch -- true\`, first boot (guest image built, boot, exit) | $cold ms |"
echo "| cold \`launch -- true\`, next boots (image cached) | $cold2 ms |"
echo "| warm \`launch -- true\`, p50 of $N | $p50 ms |"
echo "| warm \`launch -- true\`, p99 of $N | $p99 ms |"
echo "| QEMU RSS | $qemu_mib MiB (guest memory $(cat "$state/mem" 2>/dev/null) MiB) |"
echo "| supervisor + file servers RSS | $sup_mib MiB |"
