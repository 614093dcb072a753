#!/bin/bash
# idmap.sh: uidmap/gidmap through a real mount: the client's root is host
# uid/gid 1000, files it creates land on the host as 1000, host files of
# unmapped ids show as 65534, and chown to an id without a mapping is
# refused.  TAP.
set -u
. "$(dirname "$0")/../tap.sh"
# Root only, no *-user.sh run: the server must make files owned by host
# uid 1000 (another user: chown needs CAP_CHOWN) and another user (the
# client's root) must reach the mount (allow_other, which fusermount3
# grants an ordinary user only with user_allow_other in /etc/fuse.conf).
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root: files of another uid (CAP_CHOWN), allow_other for another user"; exit 0
fi
if [ ! -e /dev/fuse ] || [ -z "${FSBRIDGE:-}" ]; then
	echo "1..0 # SKIP needs /dev/fuse and FSBRIDGE"; exit 0
fi
tmp=$(mktemp -d /tmp/fsb-idmap.XXXXXX)
trap '"$FSBRIDGE" umount "$tmp/mnt" 2>/dev/null; rm -rf --one-file-system "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/mnt"
chown 1000:1000 "$tmp/src"
echo host > "$tmp/src/hostroot"		# owned by host root
check "mount with uidmap=0:1000,gidmap=0:1000" \
	"$FSBRIDGE" mount -o uidmap=0:1000,gidmap=0:1000 "$tmp/src" "$tmp/mnt"
check "the share root (host 1000) shows as the client's root" \
	[ "$(stat -c %u:%g "$tmp/mnt")" = 0:0 ]
check "a host-root file (unmapped) shows as 65534" \
	[ "$(stat -c %u:%g "$tmp/mnt/hostroot")" = 65534:65534 ]
touch "$tmp/mnt/new"
check "a file the client's root creates is host 1000:1000" \
	[ "$(stat -c %u:%g "$tmp/src/new")" = 1000:1000 ]
check "and shows to the client as 0:0" [ "$(stat -c %u:%g "$tmp/mnt/new")" = 0:0 ]
chown 4242 "$tmp/mnt/new" 2>/dev/null
rc=$?
check "chown to a client id with no mapping is refused" [ "$rc" != 0 ]
check "the host file keeps its owner" [ "$(stat -c %u "$tmp/src/new")" = 1000 ]
echo "1..$n"
