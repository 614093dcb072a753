#!/bin/bash
# run-tree.sh: a real node_modules through the host mount (issue #16's
# workloads): an offline `npm ci` of a few hundred packages into a
# directory, then `tar` of the fresh node_modules and `rm -rf` of it, each
# of the last two through a fresh mount (the kernel's caches of the mount
# cold, the host's page cache warm), natively and through fsbridge mount
# over /dev/fuse, over io_uring (--uring, as root) and through bindfs,
# interleaved over ROUNDS rounds; prints a Markdown table of median
# seconds and the ratios to native.  Owns its temp dirs and mounts and
# removes them on exit.
set -uo pipefail
PROG=${0##*/}
CMDLINE=$0; [ $# -gt 0 ] && CMDLINE+=$(printf ' %q' "$@")
HERE=$(cd "$(dirname "$0")" && pwd)
FSBRIDGE=${FSBRIDGE:-./fsbridge/fsbridge}
BINDFS=${BINDFS:-bindfs}
ROUNDS=3
URING=0
PREFILL_OFF=0
BUSY=0
CACHE_SRC=
BASE=${TMPDIR:-/tmp}

usage() {
	cat <<EOF
usage: $PROG [-r ROUNDS] [--uring] [--prefill-off] [--busy] [--cache DIR] [--dir BASE]
Times, ROUNDS times in alternating order, on native disk and through
fsbridge mount (and bindfs):
  npm-ci  an offline 'npm ci' of eslint, jest, prettier and typescript
          (338 packages, the project of bench/run-npm.sh) into an empty
          directory;
  tar     'tar -c node_modules' to a pipe, through a fresh mount;
  rm      'rm -rf node_modules', through a fresh mount.
Run it from the build directory.
  -r ROUNDS      rounds (default 3); the table shows medians
  --uring        also fsbridge over io_uring (root: turns
                 /sys/module/fuse/parameters/enable_uring on for the run)
  --prefill-off  also fsbridge with -o prefill=off (no small files pushed
                 into the page cache after a listing)
  --busy         keep the other CPU busy (yes >/dev/null) meanwhile
  --cache DIR    the npm cache to install from; filled from the registry
                 on first use (default: one in the temp dir, filled once)
  --dir BASE     make the temp dir under BASE (default \$TMPDIR or /tmp)
  -h, --help     this help
Needs node and npm, bindfs, and root or a user allowed to mount FUSE.
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
bad_usage() { echo "$PROG: $* (try --help)" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	-r) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || bad_usage "-r needs a positive number"
	    ROUNDS=$2; shift ;;
	--uring) URING=1 ;;
	--prefill-off) PREFILL_OFF=1 ;;
	--busy) BUSY=1 ;;
	--cache) [ $# -ge 2 ] || bad_usage "--cache needs a directory"
	    CACHE_SRC=$(realpath -m -- "$2"); shift ;;
	--dir) [ $# -ge 2 ] || bad_usage "--dir needs a directory"
	    BASE=$2; shift ;;
	-h|--help) usage; exit 0 ;;
	*) bad_usage "unknown argument '$1'" ;;
	esac
	shift
done
for t in node npm tar "$BINDFS" fusermount3; do
	command -v "$t" >/dev/null || die "$t is missing (the quickstart installs it)"
done
[ -x "$FSBRIDGE" ] || die "$FSBRIDGE not built (run from the build directory after make)"

# shellcheck source=../tests/mount/uring_param.sh
. "$HERE/../tests/mount/uring_param.sh"
TARGETS=(native fsbridge)
[ "$PREFILL_OFF" = 1 ] && TARGETS+=(fsbridge-prefill-off)
if [ "$URING" = 1 ]; then
	why=$(uring_param_why_not)
	[ -z "$why" ] || die "--uring: $why"
	TARGETS+=(fsbridge-uring)
fi
TARGETS+=(bindfs)

W=$(mktemp -d "$BASE/fsb-tree.XXXXXX") || die "cannot make a temp dir under $BASE"
busy_pid=
cleanup() {
	[ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null
	for m in "$W"/*/mnt; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
	done
	uring_param_restore
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the project, its lockfile and the offline cache
mkdir -p "$W/project" "$W/prep"
: > "$W/npmrc"
cp "$HERE/npm-project.json" "$W/project/package.json" || die "cannot copy $HERE/npm-project.json"
NPM_OPTS=(--userconfig "$W/npmrc" --no-audit --no-fund --ignore-scripts
	--update-notifier=false --loglevel=warn)
CACHE=${CACHE_SRC:-$W/cache}
echo "$PROG: resolving the lockfile (needs the npm registry once)" >&2
(cd "$W/project" && npm install --package-lock-only --cache "$CACHE" "${NPM_OPTS[@]}") \
	> "$W/prep.log" 2>&1 || die "npm install --package-lock-only failed: $(tail -3 "$W/prep.log")"
# an untimed install fills what the cache lacks (and warms the host)
echo "$PROG: filling the npm cache $CACHE where it lacks packages (the registry, if so)" >&2
cp "$W/project/package.json" "$W/project/package-lock.json" "$W/prep/"
(cd "$W/prep" && npm ci --prefer-offline --cache "$CACHE" "${NPM_OPTS[@]}") >> "$W/prep.log" 2>&1 ||
	die "filling the cache failed: $(tail -3 "$W/prep.log")"
rm -rf "$W/prep"

mount_target() {	# TARGET: mounts $W/TARGET/src on $W/TARGET/mnt
	local d=$W/$1
	case $1 in
	native) return 0 ;;
	fsbridge) "$FSBRIDGE" mount -o io_uring=off "$d/src" "$d/mnt" ;;
	fsbridge-uring) "$FSBRIDGE" mount -o io_uring=on "$d/src" "$d/mnt" ;;
	fsbridge-prefill-off) "$FSBRIDGE" mount -o io_uring=off,prefill=off "$d/src" "$d/mnt" ;;
	bindfs) "$BINDFS" --no-allow-other "$d/src" "$d/mnt" 2>/dev/null ||
		"$BINDFS" "$d/src" "$d/mnt" ;;
	esac
}
umount_target() {
	[ "$1" = native ] && return 0
	fusermount3 -u "$W/$1/mnt" 2>/dev/null || umount "$W/$1/mnt"
}
top() {	# TARGET: the directory the workload runs in
	if [ "$1" = native ]; then echo "$W/native/src"; else echo "$W/$1/mnt"; fi
}
secs() {	# COMMAND...: prints its wall time in seconds; fails with it
	local t0 t1
	t0=$(date +%s.%N)
	"$@" || return 1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
tar_out() { tar -cf - -C "$1" node_modules | wc -c > /dev/null; }
npm_ci() { (cd "$1" && npm ci --offline --cache "$CACHE" "${NPM_OPTS[@]}") > "$W/npm.log" 2>&1; }

[ "$URING" = 1 ] && { uring_param_on || die "cannot turn io_uring on"; }
for t in "${TARGETS[@]}"; do
	mkdir -p "$W/$t/src" "$W/$t/mnt"
done
raw=$W/raw
: > "$raw"
[ "$BUSY" = 1 ] && { yes > /dev/null & busy_pid=$!; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
	order=("${TARGETS[@]}")
	if [ $((r % 2)) = 0 ]; then
		order=(); for ((i = ${#TARGETS[@]} - 1; i >= 0; i--)); do order+=("${TARGETS[$i]}"); done
	fi
	for t in "${order[@]}"; do
		d=$(top "$t")
		mount_target "$t" || die "$t: mounting failed"
		cp "$W/project/package.json" "$W/project/package-lock.json" "$d/" || die "$t: cannot copy the project"
		s=$(secs npm_ci "$d") || die "$t: npm ci failed: $(tail -3 "$W/npm.log")"
		echo "$t npm-ci $s" >> "$raw"
		files=$(find "$d/node_modules" | wc -l)
		umount_target "$t"; mount_target "$t" || die "$t: remounting failed"
		s=$(secs tar_out "$d") || die "$t: tar failed"
		echo "$t tar $s" >> "$raw"
		umount_target "$t"; mount_target "$t" || die "$t: remounting failed"
		s=$(secs rm -rf "$d/node_modules") || die "$t: rm -rf failed"
		echo "$t rm $s" >> "$raw"
		rm -f "$d/package.json" "$d/package-lock.json"
		umount_target "$t"
		echo "$PROG: round $r, $t done ($files files and directories)" >&2
	done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

median() {	# TARGET PHASE
	awk -v t="$1" -v p="$2" '$1 == t && $2 == p { print $3 }' "$raw" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "Command: \`$CMDLINE\` (from the build directory), $(date -u '+%Y-%m-%d %H:%M UTC')."
echo "Machine: $(nproc) CPUs, Linux $(uname -r); load average $load0 before, $load1 after${busy_pid:+; the other CPU kept busy}."
echo "Workload: npm $(npm --version) ci --offline of 338 packages ($files files and directories); median of $ROUNDS round(s), seconds."
echo
hdr="| phase |"; sep="| --- |"
for t in "${TARGETS[@]}"; do hdr+=" $t |"; sep+=" ---: |"; done
for t in "${TARGETS[@]:1}"; do hdr+=" $t / native |"; sep+=" ---: |"; done
echo "$hdr"; echo "$sep"
for p in npm-ci tar rm; do
	line="| $p |"
	for t in "${TARGETS[@]}"; do line+=" $(median "$t" "$p") |"; done
	n=$(median native "$p")
	for t in "${TARGETS[@]:1}"; do
		line+=" $(awk -v a="$(median "$t" "$p")" -v b="$n" 'BEGIN { if (b > 0) printf "%.2f×", a / b }') |"
	done
	echo "$line"
done
