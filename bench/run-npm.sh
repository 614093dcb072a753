#!/bin/bash
# run-npm.sh: the real workload for launch: an offline `npm ci` of a
# project with a few hundred packages, natively on the host, in the guest
# with node_modules on the project share (virtio-fs, fsbridge serve) and in
# the guest with node_modules on a launch volume (virtio-blk, ext4),
# interleaved over ROUNDS rounds on one warm VM; prints a Markdown table of
# median seconds.  Owns its temp dirs, its VM and its volume and removes
# them on exit.
set -uo pipefail

PROG=${0##*/}
CMDLINE="bench/$PROG${*:+ $*}"
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "${top_builddir:-.}" && pwd) || exit 1
LAUNCH=${LAUNCH:-$B/launcher/launch}
ROUNDS=1
KEEP=0
BASE=${TMPDIR:-/tmp}
CACHE_SRC=
PROJECT_SRC=
CPUS=
MEM=
VOLSIZE=4G
WORK=
STATE=
VOLDIR=
VM=()		# launch with the private state dir
CHILD=		# the command being waited for
BOOTED=0
TARGETS=(native share volume)
declare -A LABEL=(
	[native]="native (host)"
	[share]="guest, node_modules on the share (virtio-fs)"
	[volume]="guest, node_modules on a volume (virtio-blk ext4)"
)
# The measured command.  Scripts are off: none of the default packages has
# an install script, and with --ignore-scripts a project that has some
# (node-gyp builds, binary downloads) measures the file system, not a
# compiler or the network.  The empty userconfig keeps the caller's
# ~/.npmrc out of it.
npm_ci() {	# CACHE USERCONFIG: sets CI
	CI=(npm ci --offline --cache "$1" --userconfig "$2" --no-audit --no-fund
		--ignore-scripts --update-notifier=false --loglevel=warn)
}
# The default project (bench/npm-project.json, shared with run-tree.sh):
# common dev dependencies, 338 packages on Linux (339 in the lockfile;
# fsevents is macOS-only), no install scripts.
DEFAULT_PACKAGE_JSON=$HERE/npm-project.json

usage() {
	cat <<EOF
usage: $PROG [-r ROUNDS] [--cache DIR] [--project DIR] [--dir BASE]
       [--cpus N] [--mem MIB] [--keep]

Time an offline 'npm ci' of a few hundred packages three ways, ROUNDS
times in alternating order, each from an empty node_modules:
  native  on the host;
  share   'launch -- npm ci' in the guest, node_modules on the project
          share (virtio-fs served by fsbridge serve);
  volume  the same with 'launch --volume' mounted on node_modules (ext4
          on virtio-blk).
The VM boots once before the timed runs (its boot is reported apart).
Every run's node_modules is checked against the lockfile (and against
the native run's file count and bytes), so a broken run fails the bench.
Run it from the build directory.

  -r ROUNDS        rounds over the three targets (default 1)
  --project DIR    the project to install: DIR/package.json and
                   DIR/package-lock.json; missing ones are created there
                   (a default package.json, then 'npm install
                   --package-lock-only', which needs the registry) and
                   kept for the next run (default: a temp dir)
  --cache DIR      the npm cache to install from; filled on first use
                   ('npm ci' online) and kept (default: a temp dir).  It
                   is copied into the VM's project dir for the runs.
  --dir BASE       make the temp dirs under BASE (default \$TMPDIR or /tmp)
  --cpus N         guest CPUs (default: launch's, 2)
  --mem MIB        guest memory (default: launch's, 1024)
  --keep           keep the work dir (raw times in results.txt)
  -h, --help       this help

launch is \$LAUNCH or ./launcher/launch; fsbridge and the guest images
are taken from the build dir (./fsbridge, ./guest-overlay) through PATH.
The VM has a private state dir and the volume a private volume dir:
nothing of another VM or volume on this machine is touched.
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
		-r) [ $# -ge 2 ] || bad_usage "-r needs a value"
		    need_count -r "$2"; ROUNDS=$2; shift ;;
		--cache|--project|--dir|--cpus|--mem)
		    [ $# -ge 2 ] || bad_usage "$1 needs a value"
		    set_opt "$1" "$2"; shift ;;
		--cache=*|--project=*|--dir=*|--cpus=*|--mem=*)
		    set_opt "${1%%=*}" "${1#*=}" ;;
		--keep) KEEP=1 ;;
		-h|--help) usage; exit 0 ;;
		*) bad_usage "unknown argument '$1'" ;;
		esac
		shift
	done
}

set_opt() {	# OPTION VALUE
	[ -n "$2" ] || bad_usage "$1 needs a value"
	case $1 in
	--cache) CACHE_SRC=$(realpath -m -- "$2") ;;
	--project) PROJECT_SRC=$(realpath -m -- "$2") ;;
	--dir) BASE=$2 ;;
	--cpus) need_count "$1" "$2"; CPUS=$2 ;;
	--mem) need_count "$1" "$2"; MEM=$2 ;;
	esac
}

check_tools() {
	[ -x "$LAUNCH" ] || die "$LAUNCH not found; run from the build dir after 'make' or set LAUNCH"
	command -v node >/dev/null || die "node not found on PATH"
	command -v npm >/dev/null || die "npm not found on PATH"
	[ -d "$BASE" ] || die "--dir $BASE is not a directory"
	[ -f "$HERE/verify-npm.js" ] || die "$HERE/verify-npm.js missing"
	# launch finds fsbridge, fsbridge-mkinitramfs, -init and -agent on PATH
	export PATH="$B/fsbridge:$B/guest-overlay:$PATH"
	[ -x "$B/fsbridge/fsbridge" ] || die "$B/fsbridge/fsbridge not found; run from the build dir after 'make'"
}

cleanup() {
	local rc=$?

	trap - EXIT INT TERM HUP
	# Interrupted: end the running command.  npm answers the first
	# signal by rolling its install back (slow in the guest), so the VM
	# is killed without waiting for it; its launch client then exits.
	[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null
	if [ "$BOOTED" = 1 ]; then
		"${VM[@]}" -q halt -f >/dev/null 2>&1 ||
			echo "$PROG: could not halt the VM (state $STATE)" >&3
	fi
	[ -n "$CHILD" ] && wait "$CHILD" 2>/dev/null
	[ -n "$STATE" ] && rm -rf -- "$STATE"
	[ -n "$VOLDIR" ] && rm -rf -- "$VOLDIR"
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "$KEEP" = 1 ]; then
			echo "$PROG: kept $WORK (raw times in $WORK/results.txt)" >&3
		else
			rm -rf --one-file-system -- "$WORK"
		fi
	fi
	exit "$rc"
}

on_signal() {	# SIGNAL STATUS
	echo "$PROG: interrupted by SIG$1" >&3	# stderr may be a log now
	exit "$2"
}

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# The project: package.json + package-lock.json, made in PROJECT_SRC (or a
# temp dir) if missing.
prepare_project() {
	local src=${PROJECT_SRC:-$WORK/prep/project}

	mkdir -p -- "$src" || die "cannot create project dir $src"
	if [ ! -f "$src/package.json" ]; then
		[ -f "$src/package-lock.json" ] && die "$src has a package-lock.json but no package.json"
		cp -- "$DEFAULT_PACKAGE_JSON" "$src/package.json" ||
			die "cannot write $src/package.json"
	fi
	if [ ! -f "$src/package-lock.json" ]; then
		echo "$PROG: resolving the dependency tree into $src/package-lock.json (needs the npm registry)" >&2
		in_dir "$src" npm install --package-lock-only --userconfig "$WORK/npmrc" \
			--no-audit --no-fund --ignore-scripts --update-notifier=false --loglevel=warn >&2 ||
			die "npm install --package-lock-only failed in $src"
	fi
	PROJECT_SRC=$src
}

# The cache: filled from the registry by one online npm ci if it has no
# content yet, then copied into the VM's project dir.
prepare_cache() {
	local src=${CACHE_SRC:-$WORK/cache} scratch=$WORK/prep/fill

	if [ ! -d "$src/_cacache" ]; then
		echo "$PROG: filling the npm cache $src (needs the npm registry)" >&2
		mkdir -p -- "$src" "$scratch" || die "cannot create $src"
		cp -- "$PROJECT_SRC/package.json" "$PROJECT_SRC/package-lock.json" "$scratch/" || exit 1
		in_dir "$scratch" npm ci --cache "$src" --userconfig "$WORK/npmrc" --no-audit \
			--no-fund --ignore-scripts --update-notifier=false --loglevel=warn >&2 ||
			die "filling the cache failed (npm ci --cache $src)"
		rm -rf -- "$scratch"
	fi
	CACHE_SRC=$src
	if [ "$src" != "$WORK/cache" ]; then
		cp -a -- "$src" "$WORK/cache" || die "cannot copy the cache $src"
	fi
	rm -rf -- "$WORK/cache/_logs"
}

# WORK is the VM's project dir (it has .git; launch also gets --project):
# one copy of the project per target, the cache, the checker.
setup_work() {
	local t

	WORK=$(mktemp -d "$BASE/fsb-npm.XXXXXX") || die "mktemp in $BASE failed"
	STATE=$(mktemp -d "$BASE/fsb-npm-vm.XXXXXX") || die "mktemp in $BASE failed"
	VM=("$LAUNCH" --state "$STATE")
	VOLDIR=$(mktemp -d "$BASE/fsb-npm-vol.XXXXXX") || die "mktemp in $BASE failed"
	export FSBRIDGE_VOLUME_DIR=$VOLDIR	# a private volume, created at boot
	mkdir "$WORK/.git" "$WORK/prep" && : >"$WORK/npmrc" || die "cannot set up $WORK"
	cp -- "$HERE/verify-npm.js" "$WORK/" || exit 1
	prepare_project
	prepare_cache
	for t in "${TARGETS[@]}"; do
		mkdir "$WORK/$t" &&
			cp -- "$PROJECT_SRC/package.json" "$PROJECT_SRC/package-lock.json" "$WORK/$t/" ||
			die "cannot set up $WORK/$t"
	done
	rm -rf -- "$WORK/prep"	# a temp project, the cache filler's install
	: >"$WORK/results.txt"
}

# The measured command line, for the report and the runs.
CI=()

# Untimed native run: checks that the cache serves the lockfile offline,
# warms the host's caches, and gives the reference file count and bytes.
warm_up() {
	local out

	npm_ci "$WORK/cache" "$WORK/npmrc"
	echo "$PROG: untimed native run (checks the cache is complete)" >&2
	in_dir "$WORK/native" "${CI[@]}" >"$WORK/warmup.log" 2>&1 ||
		die "offline npm ci failed natively; the cache lacks packages? (remove $CACHE_SRC to refill it): $(tail -3 "$WORK/warmup.log")"
	in_dir "$WORK" node "$WORK/verify-npm.js" "$WORK/native" >"$WORK/check.out" ||
		die "the native install does not check out; see above"
	out=$(cat "$WORK/check.out")
	REFERENCE=$out
	PACKAGES=${out#packages=}; PACKAGES=${PACKAGES%% *}
	ENTRIES=${out#*entries=}; ENTRIES=${ENTRIES%% *}
}

# in_dir DIR CMD...: run CMD in DIR as a child the signal traps can end
# (bash defers a trap until a foreground child exits, not a wait).
in_dir() {
	local dir=$1 rc

	shift
	(cd "$dir" && exec "$@") &
	CHILD=$!
	wait "$CHILD"
	rc=$?
	CHILD=
	return "$rc"
}

boot_vm() {
	local t0 t1

	[ -n "$CPUS" ] && echo "$CPUS" >"$STATE/cpu"
	[ -n "$MEM" ] && echo "$MEM" >"$STATE/mem"
	echo "$PROG: booting the VM" >&2
	t0=$(now)
	BOOTED=1
	in_dir "$WORK" "${VM[@]}" -q --project "$WORK" \
		--volume "npmbench:$WORK/volume/node_modules:$VOLSIZE" boot ||
		die "launch boot failed; see $STATE/log (or run with --keep)"
	t1=$(now)
	BOOT_S=$(secs "$t0" "$t1")
	# the guest's fixed cost per npm command: node + npm start-up under
	# emulation; the first run reads npm's own files through the root share
	in_dir "$WORK" "${VM[@]}" -n -- npm --version >"$WORK/npmv.log" 2>&1 ||
		die "npm does not run in the guest: $(tail -3 "$WORK/npmv.log")"
	t0=$(now)
	in_dir "$WORK" "${VM[@]}" -n -- npm --version >/dev/null 2>&1 ||
		die "npm --version failed in the guest"
	t1=$(now)
	NPMV_S=$(secs "$t0" "$t1")
}

# check TARGET ROUND: the verify-npm.js line of TARGET's node_modules,
# compared with the native reference.
check() {
	local target=$1 round=$2 out

	if [ "$target" = volume ]; then	# only the guest sees the volume
		in_dir "$WORK/volume" "${VM[@]}" -n -- node "$WORK/verify-npm.js" . \
			>"$WORK/check.out" ||
			die "$target, round $round: node_modules is wrong (see above)"
	else
		in_dir "$WORK" node "$WORK/verify-npm.js" "$WORK/$target" >"$WORK/check.out" ||
			die "$target, round $round: node_modules is wrong (see above)"
	fi
	out=$(cat "$WORK/check.out")
	[ "$out" = "$REFERENCE" ] ||
		die "$target, round $round: $out, but the native install has $REFERENCE"
}

# run_one TARGET ROUND: empty node_modules (untimed), time npm ci, check.
run_one() {
	local target=$1 round=$2 dir=$WORK/$1 log=$WORK/$1.$2.log t0 t1 rc

	case $target in
	native|share)
		rm -rf -- "$dir/node_modules" || die "cannot remove $dir/node_modules" ;;
	volume)	# the mount point stays; empty it where it is mounted
		in_dir "$dir" "${VM[@]}" -n -- find node_modules -mindepth 1 -delete ||
			die "cannot empty the volume's node_modules" ;;
	esac
	echo "$PROG: round $round: $target" >&2
	t0=$(now)
	case $target in
	native) in_dir "$dir" "${CI[@]}" >"$log" 2>&1 ;;
	*) in_dir "$dir" "${VM[@]}" -n -- "${CI[@]}" >"$log" 2>&1 ;;
	esac
	rc=$?
	t1=$(now)
	[ "$rc" = 0 ] || die "$target, round $round: npm ci failed (exit $rc): $(tail -5 "$log")"
	check "$target" "$round"
	echo "$target $round $(secs "$t0" "$t1")" >>"$WORK/results.txt"
}

median() {	# TARGET: median seconds of TARGET over the rounds
	awk -v t="$1" '$1 == t { print $3 }' "$WORK/results.txt" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
			else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

report() {
	local t med native ratio runs

	echo "npm ci on this machine ($(nproc) cores, $(uname -r), guest under $(cat "$STATE/accel" 2>/dev/null || echo '?'), $(cat "$STATE/cpu" 2>/dev/null || echo 2) vCPUs / $(cat "$STATE/mem" 2>/dev/null || echo 1024) MiB): $(date -u '+%F %H:%M UTC')"
	echo "Command: $CMDLINE"
	echo "Workload: node $(node --version), npm $(npm --version 2>/dev/null), $PACKAGES packages ($ENTRIES files and directories, $(awk -v b="${REFERENCE##*bytes=}" 'BEGIN { printf "%.0f", b / 1048576 }') MiB) from the offline cache;"
	echo "Each run: ${CI[*]//$WORK/\$W} (\$W: the VM's project dir)"
	echo "Load average before the runs: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| target | seconds (median of $ROUNDS) | / native | runs, s |"
	echo "| --- | ---: | ---: | ---: |"
	native=$(median native)
	for t in "${TARGETS[@]}"; do
		med=$(median "$t")
		ratio=$(awk -v a="$med" -v b="$native" 'BEGIN { printf "%.2f", a / b }')
		runs=$(awk -v t="$t" '$1 == t { printf "%s%s", sep, $3; sep = ", " }' "$WORK/results.txt")
		echo "| ${LABEL[$t]} | $med | ${ratio}× | $runs |"
	done
	echo
	echo "VM boot (\`launch --volume ... boot\`, before the runs): $BOOT_S s;" \
		"warm \`launch -- npm --version\` (node + npm start-up in the guest): $NPMV_S s."
}

main() {
	local r i order

	parse_args "$@"
	check_tools
	exec 3>&2
	trap cleanup EXIT
	trap 'on_signal INT 130' INT
	trap 'on_signal TERM 143' TERM
	trap 'on_signal HUP 129' HUP
	setup_work
	warm_up
	LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
	boot_vm
	for r in $(seq "$ROUNDS"); do
		# odd rounds left to right, even rounds right to left
		if [ $((r % 2)) = 1 ]; then order=(0 1 2); else order=(2 1 0); fi
		for i in "${order[@]}"; do
			run_one "${TARGETS[$i]}" "$r"
		done
	done
	report
}

main "$@"
