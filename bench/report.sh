#!/bin/bash
# report.sh: the benchmarks as a report directory.  Runs the host-mount
# workload (bench/run-mount.sh) on native disk, fsbridge over /dev/fuse,
# fsbridge over io_uring and bindfs, and the in-guest workload
# (bench/run-guest.sh) on virtio-blk, QEMU's virtiofsd and fsbridge; writes
# their Markdown tables, the raw numbers and one PNG plot (gnuplot) of the
# µs per operation of each phase per workload, with the machine (CPUs,
# kernel, load average before and after) and the exact command.
#
#   bench/report.sh [-n FILES] [-r ROUNDS] [--guest-n FILES] [--guest-r ROUNDS]
#                   [--no-guest] [--busy] [-o DIR]
#   (from the build directory; root for io_uring, which it switches on for
#   the run and back, and for the guest workload)
set -euo pipefail

PROG=${0##*/}
CMDLINE=$0; [ $# -gt 0 ] && CMDLINE+=$(printf ' %q' "$@")
HERE=$(cd "$(dirname "$0")" && pwd)
FILES=2000
ROUNDS=3
GFILES=500
GROUNDS=1
GUEST=1
BUSY=
OUT=

usage() {
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	cat <<EOF

  -n FILES         host-mount workload size (default $FILES)
  -r ROUNDS        host-mount rounds (default $ROUNDS)
  --guest-n FILES  in-guest workload size (default $GFILES; TCG is slow)
  --guest-r ROUNDS in-guest rounds (a boot per target and round; default $GROUNDS)
  --no-guest       host mount only
  --busy           keep a CPU busy beside the host-mount runs (run-mount.sh --busy)
  -o DIR           the report directory (default bench-report-DATE); made
                   if missing: README.md, mount.md, guest.md, *.dat, *.png
EOF
}

bad_usage() { echo "$PROG: $* (try --help)" >&2; exit 2; }
count() { [[ $2 =~ ^[1-9][0-9]*$ ]] || bad_usage "$1: '$2' is not a positive number"; }
while [ $# -gt 0 ]; do
	case $1 in
	-n) [ $# -ge 2 ] || bad_usage "-n needs a value"; count -n "$2"; FILES=$2; shift ;;
	-r) [ $# -ge 2 ] || bad_usage "-r needs a value"; count -r "$2"; ROUNDS=$2; shift ;;
	--guest-n) [ $# -ge 2 ] || bad_usage "--guest-n needs a value"; count --guest-n "$2"; GFILES=$2; shift ;;
	--guest-r) [ $# -ge 2 ] || bad_usage "--guest-r needs a value"; count --guest-r "$2"; GROUNDS=$2; shift ;;
	--no-guest) GUEST=0 ;;
	--busy) BUSY=--busy ;;
	-o) [ $# -ge 2 ] || bad_usage "-o needs a value"; OUT=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) bad_usage "unknown argument '$1'" ;;
	esac
	shift
done
command -v gnuplot >/dev/null || { echo "$PROG: gnuplot missing (Debian package gnuplot-nox)" >&2; exit 1; }
OUT=${OUT:-bench-report-$(date -u +%Y%m%d-%H%M)}
mkdir -p "$OUT"

# FUSE over io_uring is a kernel-wide switch: on for the run, then back
# (shared with the io_uring test suites, see tests/mount/uring_param.sh)
# shellcheck source=../tests/mount/uring_param.sh
. "$HERE/../tests/mount/uring_param.sh"
URING_TARGETS=
if [ -z "$(uring_param_why_not)" ] && uring_param_on; then
	trap uring_param_restore EXIT
	URING_TARGETS=fsbridge-uring
else
	echo "$PROG: no io_uring column: $(uring_param_why_not)" >&2
fi

load() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD0=$(load)
echo "$PROG: host mount ($FILES files, $ROUNDS rounds)..." >&2
"$HERE/run-mount.sh" -n "$FILES" -r "$ROUNDS" $BUSY -t "native fsbridge $URING_TARGETS bindfs" \
	--results "$OUT/mount-raw.txt" > "$OUT/mount.md"
LOAD1=$(load)
if [ "$GUEST" = 1 ]; then
	echo "$PROG: in-guest workload ($GFILES files, $GROUNDS rounds, TCG)..." >&2
	"$HERE/run-guest.sh" -n "$GFILES" -r "$GROUNDS" -t "virtio-blk virtiofsd-auto fsbridge" \
		--raw "$OUT/guest-raw.txt" > "$OUT/guest.md"
fi
LOAD2=$(load)
GUESTLOAD=
[ "$GUEST" = 0 ] || GUESTLOAD=1

PHASES="create stat read readdir stat-warm read-warm unlink"
# medians of the host rounds: one line per phase, one column per target
awk -v targets="native fsbridge $URING_TARGETS bindfs" -v phases="$PHASES" '
	{ n[$1, $3]++; v[$1, $3, n[$1, $3]] = $5 }
	function median(t, p,   k, i, j, a, x) {
		k = n[t, p]
		if (k == 0) return "NaN"
		for (i = 1; i <= k; i++) a[i] = v[t, p, i]
		for (i = 2; i <= k; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		nt = split(targets, tg, " "); np = split(phases, ph, " ")
		for (p = 1; p <= np; p++) {
			line = ph[p]
			for (i = 1; i <= nt; i++) line = line " " median(tg[i], ph[p])
			print line
		}
	}' "$OUT/mount-raw.txt" > "$OUT/mount.dat"
if [ "$GUEST" = 1 ]; then
	awk -v phases="$PHASES" '
		{ v[$1, $2] = ($3 == "-" ? "NaN" : $3) }
		END {
			np = split(phases, ph, " ")
			for (p = 1; p <= np; p++)
				print ph[p], v["virtio-blk", ph[p]], v["virtiofsd-auto", ph[p]], v["fsbridge", ph[p]]
		}' "$OUT/guest-raw.txt" > "$OUT/guest.dat"
fi

# plot DAT PNG TITLE COLUMN-TITLE...: grouped bars, log scale
plot() {
	local dat=$1 png=$2 title=$3 i=2 cmd=""
	shift 3
	for t in "$@"; do
		cmd="$cmd${cmd:+, }'$dat' using $i:xtic(1) title '$t'"
		i=$((i + 1))
	done
	gnuplot <<EOF
set terminal pngcairo size 900,480 font ",10" noenhanced
set output '$png'
set title "$title"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set ylabel "µs per operation (log scale; lower is better)"
set grid ytics mytics
set key outside top center horizontal
set yrange [0.5:*]
plot $cmd
EOF
}
BUSYNOTE=
[ -z "$BUSY" ] || BUSYNOTE=", a core kept busy"
plot "$OUT/mount.dat" "$OUT/mount.png" \
	"Host mount: $FILES files of 1 KiB, median of $ROUNDS rounds$BUSYNOTE (load avg $LOAD0 → $LOAD1)" \
	native "fsbridge /dev/fuse" ${URING_TARGETS:+"fsbridge io_uring"} bindfs
[ "$GUEST" = 0 ] || plot "$OUT/guest.dat" "$OUT/guest.png" \
	"In a TCG guest: $GFILES files of 1 KiB, median of $GROUNDS round(s) (load avg $LOAD1 → $LOAD2)" \
	"virtio-blk ext4" "virtiofsd cache=auto" "fsbridge cache=auto"

{
	echo "# Benchmark report"
	echo
	echo "Command: \`$CMDLINE\` (from $(pwd))"
	echo
	echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(uname -sr); load average (1, 5, 15 min): before $LOAD0, after the host mount $LOAD1${GUESTLOAD:+, after the guest $LOAD2}"
	echo
	echo "## Host mount"
	echo
	echo "![host mount](mount.png)"
	echo
	cat "$OUT/mount.md"
	if [ "$GUEST" = 1 ]; then
		echo
		echo "## In a guest"
		echo
		echo "![in a guest](guest.png)"
		echo
		cat "$OUT/guest.md"
	fi
} > "$OUT/README.md"
echo "$PROG: report in $OUT/README.md" >&2
