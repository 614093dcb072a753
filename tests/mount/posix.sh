#!/bin/bash
# tests/mount/posix.sh — owned by the POSIX behaviour suite
# (tests/mount/posix_compare.c, posix.inc).
#
# Mounts an empty SRC at MNT with "$FSBRIDGE mount", runs posix_compare to
# compare a plain directory REF with MNT, checks that what was written
# through MNT landed in SRC, and unmounts; once with default options, once
# with -o cache=none, and once with -o specials=all,suid,allow_other, where
# posix_compare --suid also compares its setuid/setgid steps (as root and as
# an ordinary user, uid 1234, inside the run) with no exceptions (root only): a trusted share must then
# behave as the local disk does.  Emits one TAP stream: the points
# posix_compare prints are renumbered to follow on from this script's own.
#
# Needs /dev/fuse, and fusermount3 when not root (else "1..0 # SKIP"); as
# an ordinary user (posix-user.sh) REF and MNT are both worked on as that
# user, so what only root may do (chown to another owner) fails the same
# way in both.  Environment: FSBRIDGE (the fsbridge binary), top_builddir
# (where tests/mount/posix_compare is built).
set -u
. "$(dirname "$0")/../lib/umount.sh"

MARKER=posix_compare.marker
COMPARE_TIMEOUT=${POSIX_COMPARE_TIMEOUT:-1800}
compare=${top_builddir:-.}/tests/mount/posix_compare

if [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null; then
	echo "1..0 # SKIP not root and no fusermount3 (apt-get install fuse3)"
	exit 0
fi
if [ ! -c /dev/fuse ]; then
	echo "1..0 # SKIP /dev/fuse is missing"
	exit 0
fi
if [ -z "${FSBRIDGE:-}" ]; then
	echo "1..0 # SKIP FSBRIDGE is not set"
	exit 0
fi
if ! npoints=$("$compare" --count) || [ -z "$npoints" ]; then
	echo "1..1"
	echo "not ok 1 - posix_compare runs ($compare)"
	exit 1
fi

tmp=
mounted=()
t=0
failures=0

# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
	local m
	for m in ${mounted[@]+"${mounted[@]}"}; do
		if mountpoint -q "$m"; then
			timeout 30 "$FSBRIDGE" umount "$m" >/dev/null 2>&1 ||
				fusermount3 -u -z "$m" >/dev/null 2>&1 ||
				umount -l "$m" >/dev/null 2>&1
		fi
	done
	if [ -n "$tmp" ]; then
		rm -rf --one-file-system "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsbridge-posix.XXXXXX") || exit 1
chmod 755 "$tmp"	# the setuid/setgid steps act as an ordinary user too

ok() {
	t=$((t + 1))
	echo "ok $t - $*"
}

not_ok() {
	t=$((t + 1))
	failures=$((failures + 1))
	echo "not ok $t - $*"
}

skip_points() {
	local n=$1 why=$2 label=$3 i
	for ((i = 0; i < n; i++)); do
		ok "[$label] not run # SKIP $why"
	done
}

diag_file() {
	sed 's/^/# /' "$1"
}

# Passes posix_compare's TAP through with our numbering and the section label;
# points it never printed (crash, timeout) become failures.
run_compare() {
	local label=$1 ref=$2 mnt=$3 seen=0 status=unknown line rest num
	local suid=()
	[ "$4" = suid ] && suid=(--suid)
	while IFS= read -r line; do
		case $line in
		"ok "* | "not ok "*)
			rest=${line#not }
			rest=${rest#ok }
			num=${rest%%[!0-9]*}
			rest=${rest#"$num"}
			rest=${rest# - }
			seen=$((seen + 1))
			if [ "${line#not }" != "$line" ]; then
				not_ok "[$label] $rest"
			else
				ok "[$label] $rest"
			fi
			;;
		"1.."*) ;;
		"#EXIT "*) status=${line#"#EXIT "} ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done < <(timeout -k 10 "$COMPARE_TIMEOUT" "$compare" ${suid[@]+"${suid[@]}"} "$ref" "$mnt" 2>&1
		echo "#EXIT $?")
	while [ "$seen" -lt "$npoints" ]; do
		seen=$((seen + 1))
		not_ok "[$label] posix_compare point $seen did not run (exit status $status)"
	done
}

# The marker posix_compare wrote through MNT must be in SRC, byte for byte.
check_marker() {
	local label=$1 ref=$2 src=$3
	local desc="[$label] $MARKER landed in SRC with the same content"
	if cmp -s "$ref/$MARKER" "$src/$MARKER"; then
		ok "$desc"
	else
		not_ok "$desc"
		{ cmp "$ref/$MARKER" "$src/$MARKER" 2>&1; od -c "$src/$MARKER" 2>&1 | head -n 5; } |
			sed 's/^/#   /'
	fi
}

# Type, mode, owner, link count, size (not for directories), name and symlink
# target of everything under a directory, sorted.
tree_of() {
	(cd "$1" && find . -mindepth 1 \
		\( -type d -printf '%y %m %U:%G %n - %p\n' \) -o \
		-printf '%y %m %U:%G %n %s %p -> %l\n' | LC_ALL=C sort)
}

check_tree() {
	local label=$1 ref=$2 src=$3
	if diff <(tree_of "$ref") <(tree_of "$src") >"$tmp/tree.diff"; then
		ok "[$label] SRC holds the same tree as REF (type, mode, owner, nlink, size)"
	else
		not_ok "[$label] SRC holds the same tree as REF (type, mode, owner, nlink, size)"
		echo "# diff REF SRC (first 30 lines):"
		head -n 30 "$tmp/tree.diff" | sed 's/^/#   /'
	fi
}

# Checksums of the regular files under a directory, big sparse ones left out.
contents_of() {
	(cd "$1" && find . -type f -size -65537k -print0 | LC_ALL=C sort -z |
		xargs -0 -r cksum)
}

check_contents() {
	local label=$1 ref=$2 src=$3
	local desc="[$label] files in SRC have the same content as in REF (up to 64 MiB)"
	if diff <(contents_of "$ref") <(contents_of "$src") >"$tmp/contents.diff"; then
		ok "$desc"
	else
		not_ok "$desc"
		echo "# diff REF SRC, cksum size name (first 30 lines):"
		head -n 30 "$tmp/contents.diff" | sed 's/^/#   /'
	fi
}

# section LABEL NAME [MOUNT OPTIONS...]: one mount, npoints + 5 test points.
# A "suid" in the options also compares posix_compare's setuid/setgid steps.
section() {
	local label=$1 name=$2 suid=
	shift 2
	case " $* " in *suid*) suid=suid ;; esac
	local base=$tmp/$name what="fsbridge mount${*:+ $*} SRC MNT"
	local ref=$base/ref src=$base/src mnt=$base/mnt
	mkdir -p "$ref" "$src" "$mnt" || exit 1

	if timeout 60 "$FSBRIDGE" mount "$@" "$src" "$mnt" >"$base.mount.log" 2>&1 &&
		mountpoint -q "$mnt"; then
		mounted+=("$mnt")
		ok "[$label] $what"
	else
		not_ok "[$label] $what"
		diag_file "$base.mount.log"
		mountpoint -q "$mnt" && mounted+=("$mnt")
		skip_points $((npoints + 4)) "mount failed" "$label"
		return
	fi

	run_compare "$label" "$ref" "$mnt" "$suid"
	check_marker "$label" "$ref" "$src"
	check_tree "$label" "$ref" "$src"
	check_contents "$label" "$ref" "$src"

	if timeout 60 "$FSBRIDGE" umount "$mnt" >"$base.umount.log" 2>&1 &&
		! mountpoint -q "$mnt"; then
		ok "[$label] fsbridge umount MNT"
	else
		not_ok "[$label] fsbridge umount MNT"
		diag_file "$base.umount.log"
		mountpoint -q "$mnt" && mount_holders "$mnt"
	fi
}

# The trusted run is root's: an ordinary user's mount is nosuid whatever
# its options (fusermount3), and allow_other needs user_allow_other in
# /etc/fuse.conf, which a test does not change.
if [ "$(id -u)" = 0 ]; then
	echo "1..$((3 * (npoints + 5)))"
else
	echo "1..$((2 * (npoints + 5) + 1))"
fi
section "default" default
section "cache=none" nocache -o cache=none
if [ "$(id -u)" = 0 ]; then
	section "specials=all,suid" suid -o specials=all,suid,allow_other
else
	t=$((t + 1))
	echo "ok $t - [specials=all,suid] # SKIP root's: a user's FUSE mount is nosuid, and allow_other needs user_allow_other"
fi
# The TAP lines carry the verdict; "$failures" is for diagnostics.
[ "$failures" = 0 ] || echo "# $failures of $t failed"
exit 0
