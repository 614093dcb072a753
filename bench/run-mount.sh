#!/bin/bash
# run-mount.sh: the small-file benchmark runner.  Runs bench/smallfile on
# native disk, an fsbridge mount, an fsbridge mount with -o cache=none and
# a bindfs mount (with --uring: both fsbridge mounts again over io_uring;
# with --passthrough: one with -o passthrough=on),
# interleaved over several rounds, and prints the median µs/op per phase
# as a Markdown table.  Owns its temp dirs and mounts and
# removes them on exit.
set -euo pipefail

PROG=${0##*/}
CMDLINE=$0; [ $# -gt 0 ] && CMDLINE+=$(printf ' %q' "$@")
FILES=10000
ROUNDS=3
KEEP=0
BASE=${TMPDIR:-/tmp}
FSBRIDGE=${FSBRIDGE:-./fsbridge/fsbridge}
SMALLFILE=${SMALLFILE:-./bench/smallfile}
BINDFS=${BINDFS:-bindfs}
WORK=
MOUNTED=		# "kind:mountpoint" of our live mount, if any
TARGETS=()		# targets measured, in column order
REF=			# --ref: another fsbridge binary, a column of its own
SF_ARGS=()		# -s/-w for smallfile
SIZE=
CHUNK=
URING=0			# --uring: fsbridge columns over io_uring too
PASSTHROUGH=0		# --passthrough: a column with -o passthrough=on
BUSY=0			# --busy: a CPU-bound process beside the runs
BUSY_PID=
LOAD_BEFORE=
ONLY=			# -t: the columns to run, a subset of the known ones
RESULTS=		# --results: copy the raw results there

usage() {
	cat <<EOF
usage: $PROG [-n FILES] [-s BYTES] [-w CHUNK] [-r ROUNDS] [--fsbridge PATH] [--ref PATH]
       [--uring] [--passthrough] [--busy] [-t "TARGET..."] [--results FILE] [--dir BASE] [--keep]

Run bench/smallfile on native disk, an fsbridge mount (default options),
an fsbridge mount with -o cache=none and a bindfs mount, ROUNDS times in
alternating order, and print the median microseconds per operation of
each phase as a Markdown table.  Run it from the build directory.

  -n FILES         files in the workload (default 10000)
  -s BYTES         bytes per file (smallfile's default: 1024)
  -w CHUNK         write each file in write(2) calls of CHUNK bytes
  -r ROUNDS        rounds over all targets (default 3)
  --fsbridge PATH  the fsbridge binary (default \$FSBRIDGE or
                   ./fsbridge/fsbridge)
  --ref PATH       also mount with another fsbridge binary (an earlier
                   build, say) in a column "fsbridge ref", with ref/fsbridge
  --uring          also mount both fsbridge columns with -o io_uring=on
                   ("io_uring" columns; the others then get io_uring=off:
                   /dev/fuse).  FUSE over io_uring must be on in the
                   kernel: echo 1 > /sys/module/fuse/parameters/enable_uring
  --passthrough    also an fsbridge mount with -o passthrough=on (column
                   "fsbridge passthrough"; needs root)
  --busy           keep a CPU busy beside the runs (yes >/dev/null): a
                   round trip costs less when no core is idle
  -t "TARGET..."   only these columns, of: native fsbridge fsbridge-nocache
                   fsbridge-uring fsbridge-nocache-uring fsbridge-passthrough
                   fsbridge-ref bindfs
                   (with an io_uring column the others get io_uring=off,
                   as with --uring; fsbridge-ref needs --ref)
  --results FILE   also write the raw results there, one line per target,
                   round and phase: TARGET ROUND PHASE OPS USEC_PER_OP TOTAL_USEC
  --dir BASE       make the temp dirs under BASE (default \$TMPDIR or /tmp);
                   native and all mount sources live there
  --keep           keep the temp dir with the raw per-run results
  -h, --help       this help

The smallfile binary is \$SMALLFILE or ./bench/smallfile, bindfs is
\$BINDFS or bindfs on PATH (the column is skipped if it is missing).
Needs root or a user allowed to mount FUSE (/dev/fuse, fusermount3).
EOF
}

die() {
	echo "$PROG: $*" >&2
	exit 1
}

bad_usage() {
	echo "$PROG: $* (try --help)" >&2
	exit 2
}

need_count() {	# option value
	[[ $2 =~ ^[1-9][0-9]*$ ]] || bad_usage "$1: '$2' is not a positive number"
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-n) [ $# -ge 2 ] || bad_usage "-n needs a value"
		    need_count -n "$2"; FILES=$2; shift ;;
		-s) [ $# -ge 2 ] || bad_usage "-s needs a value"
		    need_count -s "$2"; SF_ARGS+=(-s "$2"); SIZE=$2; shift ;;
		-w) [ $# -ge 2 ] || bad_usage "-w needs a value"
		    need_count -w "$2"; SF_ARGS+=(-w "$2"); CHUNK=$2; shift ;;
		-r) [ $# -ge 2 ] || bad_usage "-r needs a value"
		    need_count -r "$2"; ROUNDS=$2; shift ;;
		--fsbridge) [ $# -ge 2 ] || bad_usage "--fsbridge needs a value"
		    FSBRIDGE=$2; shift ;;
		--fsbridge=*) FSBRIDGE=${1#*=} ;;
		--dir) [ $# -ge 2 ] || bad_usage "--dir needs a value"
		    BASE=$2; shift ;;
		--dir=*) BASE=${1#*=} ;;
		--ref) [ $# -ge 2 ] || bad_usage "--ref needs a value"
		    REF=$2; shift ;;
		--ref=*) REF=${1#*=} ;;
		--keep) KEEP=1 ;;
		-t) [ $# -ge 2 ] || bad_usage "-t needs a value"
		    ONLY=$2; shift ;;
		--results) [ $# -ge 2 ] || bad_usage "--results needs a value"
		    RESULTS=$2; shift ;;
		--results=*) RESULTS=${1#*=} ;;
		--uring) URING=1 ;;
		--passthrough) PASSTHROUGH=1 ;;
		--busy) BUSY=1 ;;
		-h|--help) usage; exit 0 ;;
		*) bad_usage "unknown argument '$1'" ;;
		esac
		shift
	done
	for t in $ONLY; do
		case " native fsbridge fsbridge-nocache fsbridge-uring fsbridge-nocache-uring fsbridge-passthrough fsbridge-ref bindfs " in
		*" $t "*) ;;
		*) bad_usage "-t: unknown target '$t'" ;;
		esac
		case $t in
		*-uring) URING=1 ;;
		fsbridge-ref) [ -n "$REF" ] || bad_usage "-t fsbridge-ref needs --ref PATH" ;;
		fsbridge-passthrough) PASSTHROUGH=1 ;;
		esac
	done
}

check_tools() {
	[ -x "$SMALLFILE" ] || die "$SMALLFILE not found; run from the build dir after 'make bench/smallfile' or set SMALLFILE"
	[ -x "$FSBRIDGE" ] || die "$FSBRIDGE not found; run from the build dir or give --fsbridge PATH"
	[ -d "$BASE" ] || die "--dir $BASE is not a directory"
	[ -z "$REF" ] || [ -x "$REF" ] || die "--ref $REF is not an executable"
	if [ "$(id -u)" -ne 0 ]; then
		if [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
			die "cannot use /dev/fuse; run as root or a user allowed to mount FUSE"
		fi
		command -v fusermount3 >/dev/null || die "fusermount3 missing (Debian package fuse3); needed to mount FUSE without root"
	fi
}

# Is $1 a mount point?  Read from mountinfo: a dead FUSE mount cannot be stat'ed.
is_mounted() {
	findmnt -n -M "$1" >/dev/null 2>&1
}

# Unmount MOUNTED ("kind:mountpoint"), lazily if need be; 1 if still mounted.
unmount_current() {
	local kind=${MOUNTED%%:*} mnt=${MOUNTED#*:}

	[ -n "$MOUNTED" ] || return 0
	if is_mounted "$mnt"; then
		if [ "$kind" = fsbridge ]; then
			"$FSBRIDGE" umount "$mnt" 2>/dev/null || true
		else
			fusermount3 -u "$mnt" 2>/dev/null || true
		fi
	fi
	if is_mounted "$mnt"; then
		fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	fi
	is_mounted "$mnt" && return 1
	MOUNTED=
}

cleanup() {
	local ok=1

	trap - EXIT INT TERM HUP
	[ -z "$BUSY_PID" ] || kill "$BUSY_PID" 2>/dev/null || true
	unmount_current || { ok=0; echo "$PROG: could not unmount ${MOUNTED#*:}" >&2; }
	[ -n "$WORK" ] && [ -d "$WORK" ] || return 0
	if [ "$KEEP" = 1 ]; then
		echo "$PROG: kept $WORK (raw results in $WORK/results.txt)" >&2
	elif [ "$ok" = 1 ]; then
		rm -rf --one-file-system -- "$WORK"
	else
		echo "$PROG: left $WORK in place because a mount is still live" >&2
	fi
}

on_signal() {
	echo "$PROG: interrupted" >&2
	exit 130
}

# Wait up to 10 s for $1 to become a mount point.
wait_mounted() {
	local i

	for i in $(seq 100); do
		is_mounted "$1" && return 0
		sleep 0.1
	done
	return 1
}

# mount_target NAME: mount WORK/src-NAME at WORK/NAME (nothing for native).
# Only the target being measured is mounted, so no other daemon (and no
# other filesystem-wide watcher) runs beside it.
mount_target() {
	local name=$1 src=$WORK/src-$1 mnt=$WORK/$1 kind=fsbridge cmd
	local dev=()

	[ "$URING" = 0 ] || dev=(-o io_uring=off)
	case $name in
	native) return 0 ;;
	fsbridge) cmd=("$FSBRIDGE" mount ${dev[@]+"${dev[@]}"}) ;;
	fsbridge-nocache) cmd=("$FSBRIDGE" mount ${dev[@]+"${dev[@]}"} -o cache=none) ;;
	fsbridge-uring) cmd=("$FSBRIDGE" mount -o io_uring=on) ;;
	fsbridge-nocache-uring) cmd=("$FSBRIDGE" mount -o cache=none,io_uring=on) ;;
	fsbridge-passthrough) cmd=("$FSBRIDGE" mount ${dev[@]+"${dev[@]}"} -o passthrough=on) ;;
	fsbridge-ref) cmd=("$REF" mount) ;;
	bindfs) cmd=("$BINDFS"); kind=fuse ;;
	esac
	"${cmd[@]}" "$src" "$mnt" || die "mounting $name failed: ${cmd[*]} $src $mnt"
	MOUNTED=$kind:$mnt
	wait_mounted "$mnt" || die "$name: $mnt did not become a mount point"
}

setup_targets() {
	local t

	TARGETS=(native fsbridge fsbridge-nocache)
	[ "$URING" = 0 ] || TARGETS+=(fsbridge-uring fsbridge-nocache-uring)
	[ "$PASSTHROUGH" = 0 ] || TARGETS+=(fsbridge-passthrough)
	[ -z "$REF" ] || TARGETS+=(fsbridge-ref)
	if command -v "$BINDFS" >/dev/null; then
		TARGETS+=(bindfs)
	else
		echo "$PROG: bindfs not installed (Debian package bindfs); skipping that column" >&2
	fi
	if [ -n "$ONLY" ]; then
		local all=("${TARGETS[@]}")
		TARGETS=()
		for t in "${all[@]}"; do
			case " $ONLY " in *" $t "*) TARGETS+=("$t") ;; esac
		done
	fi
	WORK=$(mktemp -d "$BASE/fsbridge-bench.XXXXXX")
	for t in "${TARGETS[@]}"; do
		mkdir "$WORK/$t"
		[ "$t" = native ] || mkdir "$WORK/src-$t"
	done
}

# run_one TARGET ROUND: one smallfile run, its phases appended to results.
run_one() {
	local target=$1 round=$2 out=$WORK/run.json

	mount_target "$target"
	"$SMALLFILE" --json -n "$FILES" ${SF_ARGS[@]+"${SF_ARGS[@]}"} "$WORK/$target" >"$out" ||
		die "smallfile failed on $target (round $round)"
	unmount_current || die "could not unmount ${MOUNTED#*:}"
	awk -v t="$target" -v r="$round" '
		function num(key,   s) {
			s = $0; sub(".*\"" key "\":", "", s); sub("[,}].*", "", s)
			return s
		}
		/"phase"/ {
			p = $0; sub(".*\"phase\":\"", "", p); sub("\".*", "", p)
			print t, r, p, num("ops"), num("usec_per_op"), num("total_usec")
		}' "$out" >>"$WORK/results.txt"
}

# Odd rounds run the targets in column order, even rounds in reverse.
run_rounds() {
	local r i n=${#TARGETS[@]} order

	for r in $(seq "$ROUNDS"); do
		order=()
		for i in $(seq 0 $((n - 1))); do
			if [ $((r % 2)) = 1 ]; then order+=("${TARGETS[i]}")
			else order+=("${TARGETS[n - 1 - i]}"); fi
		done
		echo "$PROG: round $r/$ROUNDS: ${order[*]}" >&2
		for i in "${order[@]}"; do
			run_one "$i" "$r"
		done
	done
}

print_header() {
	local fstype

	fstype=$(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK")
	echo "Command: \`$CMDLINE\`"
	echo
	echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(uname -s) $(uname -r) $(uname -m); native and mount sources on $fstype; load average (1, 5, 15 min) before $LOAD_BEFORE, at the end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	echo
	[ "$URING" = 0 ] || { echo "fsbridge columns without \"io_uring\" are served over /dev/fuse (-o io_uring=off)"; echo; }
	[ "$BUSY" = 0 ] || { echo "Load: one \`yes >/dev/null\` ran beside the runs (--busy)"; echo; }
	echo "Workload: bench/smallfile -n $FILES${SF_ARGS[*]+ ${SF_ARGS[*]}}: $FILES files of ${SIZE:-1024} bytes${CHUNK:+ written $CHUNK bytes per write(2)} in $((FILES < 100 ? FILES : 100)) dirs; median of $ROUNDS interleaved round(s); µs per operation"
	echo
}

# Medians per target and phase, then the Markdown table.
print_table() {
	awk -v targets="${TARGETS[*]}" -v hasref="${REF:+1}" '
		function median(arr, key,   n, i, j, v, a) {
			n = cnt[key]
			for (i = 1; i <= n; i++) a[i] = arr[key, i]
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
					v = a[j]; a[j] = a[j - 1]; a[j - 1] = v
				}
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		function cell(v) { return v == "" ? "–" : sprintf("%.2f", v) }
		function ratio(a, b) { return a == "" || b == "" || b == 0 ? "–" : sprintf("%.2f×", a / b) }
		function title(t) {
			if (t == "fsbridge-nocache") return "fsbridge cache=none"
			if (t == "fsbridge-ref") return "fsbridge ref"
			if (t == "fsbridge-uring") return "fsbridge io_uring"
			if (t == "fsbridge-nocache-uring") return "fsbridge cache=none io_uring"
			if (t == "fsbridge-passthrough") return "fsbridge passthrough"
			return t
		}
		function row(name, nops, m,   i, line) {
			line = "| " name " | " nops " |"
			for (i = 1; i <= nt; i++) line = line " " cell(m[tg[i]]) " |"
			line = line " " ratio(m["fsbridge"], m["native"]) " | " ratio(m["bindfs"], m["fsbridge"]) " |"
			print line (hasref ? " " ratio(m["fsbridge-ref"], m["fsbridge"]) " |" : "")
		}
		{
			key = $1 SUBSEP $3
			cnt[key]++
			per_op[key, cnt[key]] = $5 + 0
			total[key, cnt[key]] = $6 + 0
			if (!($3 in ops)) { phases[++np] = $3; ops[$3] = $4 }
		}
		END {
			nt = split(targets, tg, " ")
			line = "| phase | ops |"; rule = "| --- | ---: |"
			for (i = 1; i <= nt; i++) { line = line " " title(tg[i]) " |"; rule = rule " ---: |" }
			print line " fsbridge/native | bindfs/fsbridge |" (hasref ? " ref/fsbridge |" : "")
			print rule " ---: | ---: |" (hasref ? " ---: |" : "")
			for (p = 1; p <= np; p++) {
				split("", m)
				for (i = 1; i <= nt; i++) {
					m[tg[i]] = median(per_op, tg[i] SUBSEP phases[p])
					sum[tg[i]] += median(total, tg[i] SUBSEP phases[p]) / 1000
				}
				row(phases[p], ops[phases[p]], m)
			}
			row("all phases, ms", "", sum)
		}' "$WORK/results.txt"
}

main() {
	parse_args "$@"
	check_tools
	trap cleanup EXIT
	trap on_signal INT TERM HUP
	setup_targets
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
	if [ "$BUSY" = 1 ]; then
		yes >/dev/null &
		BUSY_PID=$!
	fi
	run_rounds
	print_header
	print_table
	[ -z "$RESULTS" ] || cp "$WORK/results.txt" "$RESULTS"
}

main "$@"
