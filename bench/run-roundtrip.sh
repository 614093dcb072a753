#!/bin/bash
# run-roundtrip.sh: the cost of one FUSE round trip beside the floor under
# it.  Mounts a one-file tree with fsbridge -o cache=none (attributes never
# cached: every fstat is one GETATTR) over /dev/fuse and, where the kernel
# has it, over io_uring, and runs bench/roundtrip: two processes passing a
# byte back and forth over pipes on one CPU and on two (what any request
# and reply between two processes costs here), then fstat on the host
# file and through each mount.  Prints a Markdown table of µs per round
# trip (median of 5 runs).
#
# usage: run-roundtrip.sh [-n N] [--busy] [--fsbridge PATH]
#   -n N        round trips per run (default 20000)
#   --busy      keep the other CPU busy (yes >/dev/null) meanwhile
#   --fsbridge  the fsbridge binary (default $FSBRIDGE or ./fsbridge/fsbridge)
# Run from the build directory.  The io_uring row needs root (it turns
# /sys/module/fuse/parameters/enable_uring on for the run and gives the old
# value back, as the io_uring test suites do).
PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
CMDLINE=$0; [ $# -gt 0 ] && CMDLINE+=$(printf ' %q' "$@")
N=20000
BUSY=
FSBRIDGE=${FSBRIDGE:-./fsbridge/fsbridge}
RT=${ROUNDTRIP:-./bench/roundtrip}

while [ $# -gt 0 ]; do
	case $1 in
	-n) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "$PROG: -n needs a positive number (try --help)" >&2; exit 2; }
	    N=$2; shift ;;
	--busy) BUSY=1 ;;
	--fsbridge) [ $# -ge 2 ] || { echo "$PROG: --fsbridge needs a path" >&2; exit 2; }
	    FSBRIDGE=$2; shift ;;
	-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "$PROG: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done
for f in "$FSBRIDGE" "$RT"; do
	[ -x "$f" ] || { echo "$PROG: $f not built (run from the build directory after make)" >&2; exit 1; }
done

# shellcheck source=../tests/mount/uring_param.sh
. "$HERE/../tests/mount/uring_param.sh"
tmp=$(mktemp -d /tmp/fsb-rt.XXXXXX) || exit 1
busy_pid=
cleanup() {
	[ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null
	for m in "$tmp"/m-*; do
		mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount "$m"; }
	done
	uring_param_restore
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tmp/src" "$tmp/m-devfuse" "$tmp/m-uring"
echo x > "$tmp/src/f"

files=("$tmp/src/f")
labels=("fstat, host file (no FUSE)")
if "$FSBRIDGE" mount -o cache=none,io_uring=off "$tmp/src" "$tmp/m-devfuse"; then
	files+=("$tmp/m-devfuse/f"); labels+=("fstat through fsbridge cache=none, /dev/fuse (1 GETATTR)")
else
	echo "$PROG: the /dev/fuse mount failed" >&2; exit 1
fi
why=$(uring_param_why_not)
if [ -z "$why" ] && uring_param_on && "$FSBRIDGE" mount -o cache=none,io_uring=on "$tmp/src" "$tmp/m-uring"; then
	files+=("$tmp/m-uring/f"); labels+=("fstat through fsbridge cache=none, io_uring (1 GETATTR)")
else
	echo "$PROG: no io_uring row: ${why:-the io_uring mount failed}" >&2
fi
[ -n "$BUSY" ] && { yes > /dev/null & busy_pid=$!; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
out=$("$RT" -n "$N" "${files[@]}") || exit 1
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo "Command: \`$CMDLINE\` (from the build directory), $(date -u '+%Y-%m-%d %H:%M UTC')."
echo "Machine: $(nproc) CPUs, Linux $(uname -r); load average $load0 before, $load1 after${BUSY:+; the other CPU kept busy}."
echo
echo "| round trip | µs |"
echo "| --- | ---: |"
i=0
while IFS=$'\t' read -r what us; do
	case $what in
	"pipe, one CPU") what="pipe ping-pong, two processes on one CPU" ;;
	"pipe, two CPUs") what="pipe ping-pong, two processes on two CPUs" ;;
	fstat*) what=${labels[$i]}; i=$((i + 1)) ;;
	esac
	echo "| $what | $us |"
done <<< "$out"
