#!/bin/bash
# mount_edges.sh: a mount point inside its own source is refused (the
# share would contain itself and walks through it would loop back into the
# server); mounting on the source itself works and leaves it intact; a
# daemon killed with SIGKILL leaves a dead mount that mount names and
# umount clears.  TAP.
set -u
. "$(dirname "$0")/../lib/tap.sh"
# (as root or as an ordinary user, through fusermount3: see *-user.sh)
skip_unless_fuse
tmp=$(mktemp -d /tmp/fsb-inside.XXXXXX)
trap 'for m in "$tmp/src/mnt" "$tmp/src"; do mountpoint -q "$m" && "$FSBRIDGE" umount -l "$m"; done; rm -rf --one-file-system "$tmp"' EXIT
mkdir -p "$tmp/src/mnt"
echo data > "$tmp/src/f"
"$FSBRIDGE" mount "$tmp/src" "$tmp/src/mnt" 2> "$tmp/err"
rc=$?
check "a mount point inside the source is refused (exit $rc)" [ "$rc" = 1 ]
check "with one line naming the problem" grep -q "^fsbridge: mount point .* is inside the source" "$tmp/err"
check "nothing is mounted there" bash -c "! mountpoint -q '$tmp/src/mnt'"
check "mounting on the source itself works" "$FSBRIDGE" mount "$tmp/src" "$tmp/src"
check "the tree reads through it" grep -qx data "$tmp/src/f"
echo new > "$tmp/src/g"
check "and unmounts" "$FSBRIDGE" umount "$tmp/src"
check "what was written through it is in the directory underneath" grep -qx new "$tmp/src/g"
# a killed daemon
mkdir -p "$tmp/dead"
"$FSBRIDGE" mount -o "pidfile=$tmp/pid" "$tmp/src" "$tmp/dead"
kill -9 "$(cat "$tmp/pid")"; sleep 0.2
"$FSBRIDGE" mount "$tmp/src" "$tmp/dead" 2> "$tmp/err"
rc=$?
check "mount on a dead mount is refused (exit $rc)" [ "$rc" = 1 ]
check "and says how to clear it" grep -q "dead FUSE mount is there (run 'fsbridge umount" "$tmp/err"
check "fsbridge umount clears a dead mount" "$FSBRIDGE" umount "$tmp/dead"
check "the mount point works again" "$FSBRIDGE" mount "$tmp/src" "$tmp/dead"
check "and unmounts" "$FSBRIDGE" umount "$tmp/dead"
# xattr=none: no xattrs at all (EOPNOTSUPP), the host's are untouched
if command -v setfattr > /dev/null; then
	echo x > "$tmp/src/xf"
	host_xattr=no
	setfattr -n user.host -v kept "$tmp/src/xf" 2>/dev/null && host_xattr=yes
	"$FSBRIDGE" mount -o xattr=none "$tmp/src" "$tmp/dead"
	out=$(setfattr -n user.a -v 1 "$tmp/dead/xf" 2>&1; getfattr -n user.host "$tmp/dead/xf" 2>&1)
	check "xattr=none: setxattr and getxattr fail with EOPNOTSUPP" \
		bash -c '[ "$(grep -c "Operation not supported" <<< "$1")" = 2 ]' _ "$out"
	echo y >> "$tmp/dead/xf"
	check "... writes work" bash -c '[ "$(cat "$1")" = "x
y" ]' _ "$tmp/src/xf"
	[ "$host_xattr" = yes ] &&
		check "... and the host's own xattr is untouched" \
			bash -c 'getfattr -n user.host --only-values "$1" 2>/dev/null | grep -qx kept' _ "$tmp/src/xf"
	"$FSBRIDGE" umount "$tmp/dead"
fi
# setuid/setgid files the host made (the share never sets those bits): a
# user without CAP_FSETID who writes or truncates one clears setuid, and
# setgid when group-executable; root's write keeps them -- as on a local
# disk, with the server clearing them for the kernel (FUSE_HANDLE_KILLPRIV_V2).
# (A setgid file without group execute is left out: the protocol keeps
# its bit, while kernels since 6.2 clear it on a local disk when the
# writer is not in the file's group.)
if [ "$(id -u)" != 0 ]; then
	echo "# not root: no setuid writes as another user (needs root to be one)"
elif command -v setpriv > /dev/null; then
	chmod 755 "$tmp"
	for f in kill-write:6777 kill-trunc:4777 keep-root:4755; do
		echo a > "$tmp/src/${f%%:*}" && chmod "${f#*:}" "$tmp/src/${f%%:*}"
	done
	"$FSBRIDGE" mount -o allow_other "$tmp/src" "$tmp/dead"
	nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	nobody sh -c 'echo x >> "$1"' _ "$tmp/dead/kill-write"
	nobody truncate -s 0 "$tmp/dead/kill-trunc"
	echo x >> "$tmp/dead/keep-root"
	modes=$(stat -c %a "$tmp/dead/kill-write" "$tmp/dead/kill-trunc" "$tmp/dead/keep-root" | tr '\n' ' ')
	check "an unprivileged write/truncate clears setuid (and group-executable setgid), root's keeps it ($modes)" \
		[ "$modes" = "777 777 4755 " ]
	check "... on the host too" \
		[ "$(stat -c %a "$tmp/src/kill-write" "$tmp/src/kill-trunc" "$tmp/src/keep-root" | tr '\n' ' ')" = "777 777 4755 " ]
	"$FSBRIDGE" umount "$tmp/dead"
fi
echo "1..$n"
