#!/bin/bash
# tests/mount/cli_errors.sh: the fsbridge CLI's error handling, with a real
# FUSE mount where one is needed.  Owns: exit codes (0 success, 1 runtime
# failure, 2 usage error), the single "fsbridge: " line on stderr for every
# error, nothing left mounted after an error, --help, and
# "fsbridge policy check".  Speaks TAP.
set -u
export LC_ALL=C

. "$(dirname "$0")/../lib/tap.sh"

# As root, or as an ordinary user through fusermount3 (cli_errors-user.sh),
# who makes its private mount namespace inside a user namespace of its own
# (unshare -r: mounting a tmpfs there needs no root on the host).
NS=(-m)
if [ "$(id -u)" != 0 ]; then
	command -v fusermount3 >/dev/null 2>&1 || skip_all "not root and no fusermount3"
	NS=(-r -m)
fi
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
command -v unshare >/dev/null 2>&1 || skip_all "unshare not found"
command -v timeout >/dev/null 2>&1 || skip_all "timeout not found"
[ -n "${FSBRIDGE:-}" ] && [ -x "$FSBRIDGE" ] || skip_all "FSBRIDGE not set or not executable"

T=$(mktemp -d /tmp/fsb-cli.XXXXXX) || skip_all "mktemp failed"
T=$(realpath "$T")
W=$T/scratch
SRC=$T/src
SRC2=$T/src2
MNT=$T/mnt
FILE=$T/file
mkdir -p "$W" "$SRC" "$SRC2" "$MNT"
echo hello >"$SRC/hello"
echo other >"$SRC2/hello"
echo file >"$FILE"
export FSBRIDGE T W SRC MNT

mount_count() {	# mount_count PATH: mounts on PATH in this namespace
	awk -v p="$1" '$5 == p { n++ } END { print n + 0 }' /proc/self/mountinfo
}

unmount_all() {	# unmount_all PATH: take off whatever is mounted on PATH
	local _
	for _ in 1 2 3 4; do
		[ "$(mount_count "$1")" = 0 ] && return 0
		fusermount3 -u -z "$1" >/dev/null 2>&1 || umount -l "$1" >/dev/null 2>&1
	done
}

cleanup() {
	local p
	for p in "$MNT" "$T/nomnt" "$FILE"; do
		unmount_all "$p"
	done
	if [ "$(mount_count "$MNT")" = 0 ] && [ "$(mount_count "$FILE")" = 0 ]; then
		rm -rf --one-file-system "$T"
	else
		echo "# cleanup: something is still mounted under $T; leaving it"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- TAP ---
# report GOOD NAME [DIAGNOSTIC] is tests/lib/tap.sh's

RC=0
cli() {	# cli ARGS...: run fsbridge, output in $W/out and $W/err, status in RC
	timeout -k 5 20 "$FSBRIDGE" "$@" >"$W/out" 2>"$W/err" </dev/null
	RC=$?
}

rc_matches() {	# rc_matches RC "1|2"
	local codes code
	IFS='|' read -ra codes <<<"$2"
	for code in "${codes[@]}"; do
		[ "$1" = "$code" ] && return 0
	done
	return 1
}

one_error_line() {	# exactly one line on stderr, beginning "fsbridge: "
	[ "$(awk 'END { print NR }' "$W/err")" = 1 ] && [ "$(head -c 10 "$W/err")" = "fsbridge: " ]
}

show() {
	printf 'exit=%s\nstdout: %s\nstderr: %s' "$RC" "$(head -c 200 "$W/out")" "$(head -c 300 "$W/err")"
}

# expect_error NAME RC MNTPATH: judge the last cli run as an error case
expect_error() {
	local name=$1 want=$2 mnt=$3 ok
	ok=0; rc_matches "$RC" "$want" && ok=1
	report "$ok" "$name: exit $want" "$(show)"
	ok=0; one_error_line && ok=1
	report "$ok" "$name: one stderr line starting 'fsbridge: '" "$(show)"
	if [ -n "$mnt" ]; then
		ok=0; [ "$(mount_count "$mnt")" = 0 ] && ok=1
		report "$ok" "$name: nothing mounted on ${mnt#"$T"/}" "$(show)"
		unmount_all "$mnt"
	fi
}

case_error() {	# case_error NAME RC MNTPATH ARGS...
	local name=$1 want=$2 mnt=$3
	shift 3
	cli "$@"
	expect_error "$name" "$want" "$mnt"
}

# --- runtime failures: exit 1 ---
case_error "mount: SRC missing" 1 "$MNT" mount "$T/nosrc" "$MNT"
case_error "mount -f: SRC missing" 1 "$MNT" mount -f "$T/nosrc" "$MNT"
case_error "mount: SRC is a file" 1 "$MNT" mount "$FILE" "$MNT"
case_error "mount: MNT missing" 1 "$T/nomnt" mount "$SRC" "$T/nomnt"
if [ -e "$T/nomnt" ]; then
	report 0 "mount: MNT missing: MNT was not created"
else
	report 1 "mount: MNT missing: MNT was not created"
fi
case_error "mount: MNT is a file" 1 "$FILE" mount "$SRC" "$FILE"
case_error "umount: not a mount point" 1 "$MNT" umount "$MNT"
case_error "umount: missing path" 1 "" umount "$T/nomnt"

# MNT already mounted: the second mount fails, the first keeps working.
cli mount "$SRC" "$MNT"
ok=0; [ "$RC" = 0 ] && [ "$(mount_count "$MNT")" = 1 ] && ok=1
report "$ok" "mount: first mount succeeds" "$(show)"
if [ "$ok" = 1 ]; then
	cli mount "$SRC2" "$MNT"
	ok=0; [ "$RC" = 1 ] && ok=1
	report "$ok" "mount: MNT already mounted: exit 1" "$(show)"
	ok=0; one_error_line && ok=1
	report "$ok" "mount: MNT already mounted: one stderr line starting 'fsbridge: '" "$(show)"
	ok=0; [ "$(mount_count "$MNT")" = 1 ] && ok=1
	report "$ok" "mount: MNT already mounted: still exactly one mount on MNT" \
		"$(mount_count "$MNT") mounts"
	ok=0; [ "$(timeout 10 cat "$MNT/hello" 2>/dev/null)" = hello ] && ok=1
	report "$ok" "mount: MNT already mounted: the first mount keeps serving SRC"
	ok=0; timeout 10 sh -c 'echo w >"$MNT/written" && [ "$(cat "$SRC/written")" = w ]' && ok=1
	report "$ok" "mount: MNT already mounted: the first mount still writes to SRC"
	cli umount "$MNT"
	ok=0; [ "$RC" = 0 ] && [ "$(mount_count "$MNT")" = 0 ] && ok=1
	report "$ok" "umount: exit 0, nothing mounted afterwards" "$(show)"
	ok=0; [ ! -s "$W/err" ] && ok=1
	report "$ok" "umount: nothing on stderr on success" "$(show)"
fi
unmount_all "$MNT"

# A mount point whose path has a space (mountinfo writes it as \040):
# umount finds it as an fsbridge mount and unmounts it.
SPMNT="$T/with space"
mkdir -p "$SPMNT"
cli mount "$SRC" "$SPMNT"
if [ "$RC" = 0 ]; then
	cli umount "$SPMNT"
	ok=0; [ "$RC" = 0 ] && ! mountpoint -q "$SPMNT" && ok=1
	report "$ok" "umount of a mount point with a space in its path: exit 0, nothing mounted afterwards" "$(show)"
else
	not_ok "mount on a path with a space: exit 0 ($(show))"
fi
mountpoint -q "$SPMNT" &&
	{ fusermount3 -u -z "$SPMNT" >/dev/null 2>&1 || umount -l "$SPMNT" >/dev/null 2>&1; }

# Options after the words (GNU getopt permutation): mount SRC MNT -o ro.
cli mount "$SRC" "$MNT" -o ro
ok=0; [ "$RC" = 0 ] && [ "$(mount_count "$MNT")" = 1 ] && ok=1
report "$ok" "mount SRC MNT -o ro: options after the words are accepted" "$(show)"
ok=0; [ "$(timeout 10 cat "$MNT/hello" 2>/dev/null)" = hello ] &&
	! timeout 10 sh -c 'echo w >"$MNT/ro-written"' 2>/dev/null && [ ! -e "$SRC/ro-written" ] && ok=1
report "$ok" "mount SRC MNT -o ro: the mount reads and is read-only"
unmount_all "$MNT"
case_error "mount SRC -o ro: still needs MNT" 2 "$MNT" mount "$SRC" -o ro
case_error "mount SRC MNT -- -o ro: after --, words only" 2 "$MNT" mount "$SRC" "$MNT" -- -o ro

# No /dev/fuse: run in a namespace where /dev is an empty tmpfs (so no
# /dev/null either: stdin comes from an empty file).
: >"$W/empty"
timeout -k 5 30 unshare "${NS[@]}" --propagation private sh -c '
	mount -t tmpfs fsb-nodev /dev || exit 98
	"$FSBRIDGE" mount "$SRC" "$MNT" >"$W/out" 2>"$W/err" <"$W/empty"
	echo $? >"$W/rc"
	awk -v p="$MNT" "\$5 == p { n++ } END { print n + 0 }" /proc/self/mountinfo >"$W/mounted"'
nsrc=$?
RC=$(cat "$W/rc" 2>/dev/null || echo none)
if [ "$nsrc" = 98 ]; then
	report 0 "mount: no /dev/fuse: could hide /dev"
else
	expect_error "mount: no /dev/fuse" 1 "$MNT"
	ok=0; [ "$(cat "$W/mounted" 2>/dev/null)" = 0 ] && ok=1
	report "$ok" "mount: no /dev/fuse: nothing mounted inside the namespace either"
fi

# --- usage errors: exit 2 ---
case_error "mount: unknown option" 2 "$MNT" mount -o frobnicate "$SRC" "$MNT"
case_error "mount: unknown option among good ones" 2 "$MNT" mount -o ro,frobnicate=1,cache=none "$SRC" "$MNT"
case_error "mount: symlinks=bogus" 2 "$MNT" mount -o symlinks=bogus "$SRC" "$MNT"
case_error "mount: threads=0" 2 "$MNT" mount -o threads=0 "$SRC" "$MNT"
case_error "mount: threads=abc" 2 "$MNT" mount -o threads=abc "$SRC" "$MNT"
case_error "mount: threads=-1" 2 "$MNT" mount -o threads=-1 "$SRC" "$MNT"
case_error "mount: cache=x" 2 "$MNT" mount -o cache=x "$SRC" "$MNT"
case_error "mount: specials=devices" 2 "$MNT" mount -o specials=devices "$SRC" "$MNT"
case_error "mount: xattr=bogus" 2 "$MNT" mount -o xattr=bogus "$SRC" "$MNT"
case_error "mount: uidmap=abc" 2 "$MNT" mount -o uidmap=abc "$SRC" "$MNT"
case_error "mount: symlinks=follow on a writable share without trust_client" 2 "$MNT" \
	mount -o symlinks=follow "$SRC" "$MNT"
ok=0; grep -q 'trust_client' "$W/err" && ok=1
report "$ok" "mount: symlinks=follow without trust_client: the message names trust_client" "$(show)"
case_error "serve: symlinks=follow on a writable share without trust_client" 2 "" \
	serve --socket "$T/follow.sock" -o symlinks=follow "$SRC"
ok=0; grep -q 'trust_client' "$W/err" && [ ! -e "$T/follow.sock" ] && ok=1
report "$ok" "serve: symlinks=follow without trust_client: the message names trust_client, no socket" "$(show)"
case_error "mount: unknown flag" 2 "$MNT" mount -Z "$SRC" "$MNT"
case_error "mount: -o without a value" 2 "$MNT" mount "$SRC" "$MNT" -o
case_error "mount: no arguments" 2 "" mount
case_error "mount: one argument" 2 "$MNT" mount "$SRC"
case_error "mount: three arguments" 2 "$MNT" mount "$SRC" "$MNT" "$T/extra"
case_error "umount: no arguments" 2 "" umount
case_error "umount: two arguments" 2 "$MNT" umount "$MNT" "$T/extra"
case_error "no subcommand" 2 "" 
case_error "unknown subcommand" 2 "" frobnicate "$SRC" "$MNT"

# --- help ---
for args in "--help" "mount --help"; do
	# shellcheck disable=SC2086
	cli $args
	ok=0; [ "$RC" = 0 ] && ok=1
	report "$ok" "$args: exit 0" "$(show)"
	ok=0; [ -s "$W/out" ] && grep -qi 'usage' "$W/out" && grep -q 'mount' "$W/out" && ok=1
	report "$ok" "$args: usage on stdout" "$(show)"
	ok=0; [ ! -s "$W/err" ] && ok=1
	report "$ok" "$args: nothing on stderr" "$(show)"
done

# --- policy check ---
cat >"$T/good.policy" <<'EOF'
# a good policy
symlinks = deny
ro
specials=none
EOF
cli policy check "$T/good.policy"
ok=0; [ "$RC" = 0 ] && ok=1
report "$ok" "policy check good file: exit 0" "$(show)"
ok=0; grep -q '^symlinks = ' "$W/out" && ok=1
report "$ok" "policy check good file: prints 'symlinks = ...'" "$(show)"
ok=0; grep -qx 'symlinks = deny' "$W/out" && ok=1
report "$ok" "policy check good file: prints the effective 'symlinks = deny'" "$(show)"
ok=0; [ ! -s "$W/err" ] && ok=1
report "$ok" "policy check good file: nothing on stderr" "$(show)"

cat >"$T/bad.policy" <<'EOF'
# line 1 is a comment
ro
symlinks = sideways
EOF
cli policy check "$T/bad.policy"
expect_error "policy check bad value" "1|2" ""
ok=0; grep -q 'line 3' "$W/err" && ok=1
report "$ok" "policy check bad value: message names line 3" "$(show)"

cat >"$T/bad2.policy" <<'EOF'
rw

cache = auto
frobnicate = yes
EOF
cli policy check "$T/bad2.policy"
expect_error "policy check unknown key" "1|2" ""
ok=0; grep -q 'line 4' "$W/err" && ok=1
report "$ok" "policy check unknown key: message names line 4" "$(show)"

# A policy file is read exactly: a NUL byte does not end it early (the
# options after it would silently be dropped), a fifo does not block.
printf 'symlinks = opaque\n\0\nro\nsymlinks = deny\n' > "$T/nul.policy"
cli policy check "$T/nul.policy"
expect_error "policy check with a NUL byte" 1 ""
ok=0; grep -q "^fsbridge: $T/nul.policy: line 2: NUL byte" "$W/err" && ok=1
report "$ok" "policy check with a NUL byte: names the file and line 2" "$(show)"
case_error "mount -o policy= with a NUL byte" 2 "$MNT" mount -o "policy=$T/nul.policy" "$SRC" "$MNT"
mkfifo "$T/fifo.policy"
case_error "policy check of a fifo (does not block)" 1 "" policy check "$T/fifo.policy"
ok=0; grep -q "not a regular file" "$W/err" && ok=1
report "$ok" "policy check of a fifo: says it is not a regular file" "$(show)"
case_error "mount -o policy= of a fifo (does not block)" 2 "$MNT" mount -o "policy=$T/fifo.policy" "$SRC" "$MNT"
case_error "policy check of a directory" 1 "" policy check "$SRC"
head -c 1048577 /dev/zero | tr '\0' '#' > "$T/big.policy"
case_error "policy check of a file over 1 MiB" 1 "" policy check "$T/big.policy"
printf 'ro\r\nsymlinks = deny' > "$T/crlf.policy"
cli policy check "$T/crlf.policy"
ok=0; [ "$RC" = 0 ] && grep -qx 'ro' "$W/out" && grep -qx 'symlinks = deny' "$W/out" && ok=1
report "$ok" "policy check: CRLF lines and no newline at the end are fine" "$(show)"

# pidfile=PATH is never written through a symbolic link, nor taken over
# when it is world-writable.
echo victim > "$T/victim"
ln -s "$T/victim" "$T/pid.link"
case_error "mount: pidfile is a symbolic link" 1 "$MNT" mount -o "pidfile=$T/pid.link" "$SRC" "$MNT"
ok=0; [ "$(cat "$T/victim")" = victim ] && ok=1
report "$ok" "mount: pidfile is a symbolic link: its target is untouched" "$(cat "$T/victim")"
touch "$T/pid.ww"
chmod 666 "$T/pid.ww"
case_error "mount: pidfile is world-writable" 1 "$MNT" mount -o "pidfile=$T/pid.ww" "$SRC" "$MNT"
printf 'symlinks = follow\n' >"$T/follow.policy"
cli policy check "$T/follow.policy"
expect_error "policy check writable follow without trust_client" "1|2" ""
ok=0; grep -q 'trust_client' "$W/err" && ok=1
report "$ok" "policy check writable follow: message names trust_client" "$(show)"
printf 'ro\nsymlinks = follow\n' >"$T/follow-ro.policy"
cli policy check "$T/follow-ro.policy"
ok=0; [ "$RC" = 0 ] && grep -qx 'symlinks = follow' "$W/out" && ok=1
report "$ok" "policy check read-only follow: exit 0" "$(show)"
printf 'symlinks = follow\ntrust_client\n' >"$T/follow-trust.policy"
cli policy check "$T/follow-trust.policy"
ok=0; [ "$RC" = 0 ] && grep -qx 'trust_client' "$W/out" && ok=1
report "$ok" "policy check follow with trust_client: exit 0, prints trust_client" "$(show)"

case_error "policy check missing file" 1 "" policy check "$T/no.policy"
case_error "policy check without a file" 2 "" policy check

echo "1..$n"
# The TAP lines carry the verdict; "$failures" is for diagnostics.
[ "$failures" = 0 ] || echo "# $failures of $n failed"
exit 0
