#!/bin/bash
# run-bigfile.sh: the large-file benchmark runner.  Runs bench/bigfile
# (1 GiB sequential write and read, 4 KiB random reads and writes) on
# native disk, an fsbridge mount and an fsbridge mount with
# -o passthrough=on (with --uring: both again over io_uring), interleaved
# over several rounds, each mount fresh, and prints the median MiB/s per
# phase with the spread as a Markdown table.  Owns its temp dir and
# mounts and removes them on exit.
set -euo pipefail

PROG=${0##*/}
CMDLINE=$0; [ $# -gt 0 ] && CMDLINE+=$(printf ' %q' "$@")
MIB=1024
OPS=20000
ROUNDS=3
BASE=${TMPDIR:-/tmp}
FSBRIDGE=${FSBRIDGE:-./fsbridge/fsbridge}
BIGFILE=${BIGFILE:-./bench/bigfile}
WORK=
MOUNTED=
TARGETS=()
URING=0
BUSY=0
BUSY_PID=
LOAD_BEFORE=
ONLY=
RESULTS=

usage() {
	cat <<EOF
usage: $PROG [-s MIB] [-n OPS] [-r ROUNDS] [--fsbridge PATH] [--uring] [--busy]
       [-t "TARGET..."] [--results FILE] [--dir BASE]

Run bench/bigfile on native disk, an fsbridge mount (/dev/fuse, no
passthrough) and an fsbridge mount with -o passthrough=on, ROUNDS times
in alternating order, a fresh mount for each run, and print the median
MiB/s of each phase (min–max over the rounds) as a Markdown table.  The
file read is written on the host first, so a fresh mount reads it from
the host's page cache: what is measured is the path, not the disk.  Run
it from the build directory, as root (passthrough needs CAP_SYS_ADMIN).

  -s MIB           size of the files (default 1024)
  -n OPS           4 KiB random reads and writes per round (default 20000)
  -r ROUNDS        rounds over all targets (default 3)
  --fsbridge PATH  the fsbridge binary (default \$FSBRIDGE or ./fsbridge/fsbridge)
  --uring          also both fsbridge columns over io_uring (-o io_uring=on;
                   the others get io_uring=off).  Needs
                   echo 1 > /sys/module/fuse/parameters/enable_uring
  --busy           keep a CPU busy beside the runs (yes >/dev/null)
  -t "TARGET..."   only these columns, of: native fsbridge fsbridge-passthrough
                   fsbridge-uring fsbridge-passthrough-uring
  --results FILE   also write the raw results there, one line per target,
                   round and phase: TARGET ROUND PHASE OPS USEC_PER_OP TOTAL_USEC MIB_PER_S
  --dir BASE       make the temp dir under BASE (default \$TMPDIR or /tmp)
  -h, --help       this help
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
bad_usage() { echo "$PROG: $* (try --help)" >&2; exit 2; }
need_count() { [[ $2 =~ ^[1-9][0-9]*$ ]] || bad_usage "$1: '$2' is not a positive number"; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-s) [ $# -ge 2 ] || bad_usage "-s needs a value"; need_count -s "$2"; MIB=$2; shift ;;
		-n) [ $# -ge 2 ] || bad_usage "-n needs a value"; need_count -n "$2"; OPS=$2; shift ;;
		-r) [ $# -ge 2 ] || bad_usage "-r needs a value"; need_count -r "$2"; ROUNDS=$2; shift ;;
		--fsbridge) [ $# -ge 2 ] || bad_usage "--fsbridge needs a value"; FSBRIDGE=$2; shift ;;
		--dir) [ $# -ge 2 ] || bad_usage "--dir needs a value"; BASE=$2; shift ;;
		-t) [ $# -ge 2 ] || bad_usage "-t needs a value"; ONLY=$2; shift ;;
		--results) [ $# -ge 2 ] || bad_usage "--results needs a value"; RESULTS=$2; shift ;;
		--uring) URING=1 ;;
		--busy) BUSY=1 ;;
		-h|--help) usage; exit 0 ;;
		*) bad_usage "unknown argument '$1'" ;;
		esac
		shift
	done
	for t in $ONLY; do
		case " native fsbridge fsbridge-passthrough fsbridge-uring fsbridge-passthrough-uring " in
		*" $t "*) ;;
		*) bad_usage "-t: unknown target '$t'" ;;
		esac
		case $t in *-uring) URING=1 ;; esac
	done
}

check_tools() {
	[ -x "$BIGFILE" ] || die "$BIGFILE not found; run from the build dir after 'make bench/bigfile' or set BIGFILE"
	[ -x "$FSBRIDGE" ] || die "$FSBRIDGE not found; run from the build dir or give --fsbridge PATH"
	[ -d "$BASE" ] || die "--dir $BASE is not a directory"
	[ "$(id -u)" = 0 ] || die "run as root: passthrough needs CAP_SYS_ADMIN"
}

is_mounted() { findmnt -n -M "$1" >/dev/null 2>&1; }

unmount_current() {
	[ -n "$MOUNTED" ] || return 0
	is_mounted "$MOUNTED" && { "$FSBRIDGE" umount "$MOUNTED" 2>/dev/null || umount -l "$MOUNTED" 2>/dev/null || true; }
	is_mounted "$MOUNTED" && return 1
	MOUNTED=
}

cleanup() {
	trap - EXIT INT TERM HUP
	[ -z "$BUSY_PID" ] || kill "$BUSY_PID" 2>/dev/null || true
	if unmount_current; then
		[ -z "$WORK" ] || rm -rf --one-file-system -- "$WORK"
	else
		echo "$PROG: left $WORK in place because $MOUNTED is still mounted" >&2
	fi
}

# mount_target NAME: the shared source at WORK/mnt (nothing for native)
mount_target() {
	local dev=() cmd
	[ "$URING" = 0 ] || dev=(-o io_uring=off)
	case $1 in
	native) return 0 ;;
	fsbridge) cmd=("$FSBRIDGE" mount ${dev[@]+"${dev[@]}"}) ;;
	fsbridge-passthrough) cmd=("$FSBRIDGE" mount ${dev[@]+"${dev[@]}"} -o passthrough=on) ;;
	fsbridge-uring) cmd=("$FSBRIDGE" mount -o io_uring=on) ;;
	fsbridge-passthrough-uring) cmd=("$FSBRIDGE" mount -o io_uring=on,passthrough=on) ;;
	esac
	"${cmd[@]}" "$WORK/src" "$WORK/mnt" || die "mounting $1 failed: ${cmd[*]}"
	MOUNTED=$WORK/mnt
	for _ in $(seq 100); do is_mounted "$WORK/mnt" && return 0; sleep 0.1; done
	die "$1: $WORK/mnt did not become a mount point"
}

setup() {
	local all t
	all=(native fsbridge fsbridge-passthrough)
	[ "$URING" = 0 ] || all+=(fsbridge-uring fsbridge-passthrough-uring)
	TARGETS=()
	for t in "${all[@]}"; do
		[ -z "$ONLY" ] || case " $ONLY " in *" $t "*) ;; *) continue ;; esac
		TARGETS+=("$t")
	done
	WORK=$(mktemp -d "$BASE/fsbridge-bigfile.XXXXXX")
	mkdir "$WORK/src" "$WORK/mnt"
	echo "$PROG: writing the $MIB MiB file to read" >&2
	head -c "$((MIB * 1048576))" /dev/urandom > "$WORK/src/r"
	cat "$WORK/src/r" > /dev/null
}

run_one() {	# TARGET ROUND
	local dir=$WORK/src
	mount_target "$1"
	[ "$1" = native ] || dir=$WORK/mnt
	sync	# the last run's writeback is not this one's
	"$BIGFILE" -s "$MIB" -n "$OPS" "$dir" > "$WORK/run.txt" || die "bigfile failed on $1 (round $2)"
	unmount_current || die "could not unmount $MOUNTED"
	sed "s/^/$1 $2 /" "$WORK/run.txt" >> "$WORK/results.txt"
}

run_rounds() {
	local r i n=${#TARGETS[@]} order
	for r in $(seq "$ROUNDS"); do
		order=()
		for i in $(seq 0 $((n - 1))); do
			if [ $((r % 2)) = 1 ]; then order+=("${TARGETS[i]}"); else order+=("${TARGETS[n - 1 - i]}"); fi
		done
		echo "$PROG: round $r/$ROUNDS: ${order[*]}" >&2
		for t in "${order[@]}"; do run_one "$t" "$r"; done
	done
}

print_report() {
	local fstype
	fstype=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
	echo "Command: \`$CMDLINE\`"
	echo
	echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(uname -s) $(uname -r) $(uname -m); files on $fstype; load average (1, 5, 15 min) before $LOAD_BEFORE, at the end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	echo
	[ "$BUSY" = 0 ] || { echo "Load: one \`yes >/dev/null\` ran beside the runs (--busy)"; echo; }
	echo "Workload: bench/bigfile -s $MIB -n $OPS: $MIB MiB written (1 MiB writes, no fsync) and read (1 MiB reads, host page cache warm, fresh mount), $OPS random 4 KiB preads and pwrites; median MiB/s of $ROUNDS interleaved round(s), min–max in brackets"
	echo
	awk -v targets="${TARGETS[*]}" '
		function sorted(key,   n, i, j, v) {
			n = cnt[key]
			for (i = 1; i <= n; i++) a[i] = val[key, i]
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { v = a[j]; a[j] = a[j - 1]; a[j - 1] = v }
			return n
		}
		function median(key,   n) { n = sorted(key); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
		function cell(key,   n, m) {
			if (!(key in cnt)) return "–"
			m = median(key); n = sorted(key)
			return sprintf("%.0f (%.0f–%.0f)", m, a[1], a[n])
		}
		function ratio(k1, k2) { return (k1 in cnt) && (k2 in cnt) && median(k2) > 0 ? sprintf("%.2f", median(k1) / median(k2)) : "–" }
		function title(t) { gsub("-", " ", t); return t }
		{ key = $1 SUBSEP $3; cnt[key]++; val[key, cnt[key]] = $7 + 0; if (!($3 in seen)) { seen[$3] = 1; ph[++np] = $3 } }
		END {
			nt = split(targets, tg, " ")
			line = "| phase, MiB/s |"; rule = "| --- |"
			for (i = 1; i <= nt; i++) { line = line " " title(tg[i]) " |"; rule = rule " ---: |" }
			for (i = 1; i <= nt; i++) if (tg[i] != "native") { line = line " " title(tg[i]) " / native |"; rule = rule " ---: |" }
			print line; print rule
			for (p = 1; p <= np; p++) {
				line = "| " ph[p] " |"
				for (i = 1; i <= nt; i++) line = line " " cell(tg[i] SUBSEP ph[p]) " |"
				for (i = 1; i <= nt; i++) if (tg[i] != "native") line = line " " ratio(tg[i] SUBSEP ph[p], "native" SUBSEP ph[p]) " |"
				print line
			}
		}' "$WORK/results.txt"
}

main() {
	parse_args "$@"
	check_tools
	trap cleanup EXIT
	trap 'echo "$PROG: interrupted" >&2; exit 130' INT TERM HUP
	setup
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
	if [ "$BUSY" = 1 ]; then yes >/dev/null & BUSY_PID=$!; fi
	run_rounds
	print_report
	[ -z "$RESULTS" ] || cp "$WORK/results.txt" "$RESULTS"
}

main "$@"
