#!/bin/bash
# idmap.sh: uidmap/gidmap through a real mount: the client's root is host
# uid/gid 1000, files it creates land on the host as 1000, host files of
# unmapped ids show as 65534, and chown to an id without a mapping is
# refused.  Then the attack: with allow_other, a real `nobody` process
# (uid/gid 65534, the id unmapped owners and groups are shown as) must get
# no owner or group rights on host files of unmapped ids, and no client
# may hand a file to a real host user by way of an unmapped id.  TAP.
set -u
. "$(dirname "$0")/../lib/tap.sh"
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
"$FSBRIDGE" umount "$tmp/mnt"

# --- the attack: allow_other, a real nobody on the host -----------------
export LC_ALL=C
chmod 755 "$tmp"
m=$tmp/mnt s=$tmp/src
printf 'secret\n' > "$s/secret"; chmod 600 "$s/secret"	# root:root 0600
printf 'grp\n' > "$s/grp"; chown 1001:0 "$s/grp"; chmod 040 "$s/grp"	# group root only
printf 'grpw\n' > "$s/grpw"; chown 1001:0 "$s/grpw"; chmod 060 "$s/grpw"
mkdir "$s/pub"; chown 1000:1000 "$s/pub"; chmod 1777 "$s/pub"	# the client root's /tmp
echo root > "$s/pub/rootfile"	# root's file in it
touch -d '2001-01-01 00:00:00' "$s/secret" "$s/grp" "$s/grpw"
snap() { stat -c '%u:%g %a %s %Y' "$s/secret" "$s/grp" "$s/grpw"; md5sum "$s/secret" "$s/grp" "$s/grpw"; }
before=$(snap)
check "mount with allow_other,uidmap=0:1000:1000,gidmap=0:1000:1000" \
	"$FSBRIDGE" mount -o allow_other,uidmap=0:1000:1000,gidmap=0:1000:1000 "$s" "$m"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$@"; }
# expect ERRTEXT DESCRIPTION CMD...: CMD fails and says ERRTEXT
expect() {
	local want=$1 what=$2 out
	shift 2
	out=$("$@" 2>&1) && { not_ok "$what (it succeeded)"; return; }
	case $out in
	*"$want"*) ok "$what" ;;
	*) not_ok "$what (got: $out)" ;;
	esac
}
EACCES="Permission denied" EPERM="Operation not permitted"
check "nobody sees root's file as owned by 65534" [ "$(stat -c %u "$m/secret")" = 65534 ]
expect "$EACCES" "nobody reading root's 0600 file: EACCES" as_nobody cat "$m/secret"
expect "$EACCES" "nobody appending to it: EACCES" as_nobody sh -c 'echo pwned >> "$1"' sh "$m/secret"
expect "$EACCES" "nobody truncating it: EACCES" as_nobody truncate -s 0 "$m/secret"
expect "$EPERM" "nobody chmod 0666: EPERM" as_nobody chmod 0666 "$m/secret"
expect "$EPERM" "nobody chown to itself: EPERM" as_nobody chown 65534 "$m/secret"
expect "$EPERM" "nobody chgrp to nogroup: EPERM" as_nobody chgrp 65534 "$m/secret"
# (touch -d would report its failed open instead: utimes itself here)
expect "$EPERM" "nobody setting its times: EPERM" \
	as_nobody perl -e 'utime(1, 1, $ARGV[0]) or die "$!\n"' "$m/secret"
expect "$EACCES" "nobody touching it (times to now): EACCES" as_nobody touch "$m/secret"
expect "$EPERM" "nobody setting an ACL on it: EPERM" \
	as_nobody setfattr -n system.posix_acl_access -v 0x02000000010006000000000004000600ffffffff2000060000000000 "$m/secret"
expect "$EACCES" "nobody setting a user xattr on it: EACCES" as_nobody setfattr -n user.x -v 1 "$m/secret"
expect "$EACCES" "nobody (gid 65534) reading a group-only file of an unmapped group: EACCES" \
	as_nobody cat "$m/grp"
expect "$EACCES" "nobody appending to a group-writable file of an unmapped group: EACCES" \
	as_nobody sh -c 'echo pwned >> "$1"' sh "$m/grpw"
expect "$EACCES" "the client's root (host 1000) reading root's 0600 file: EACCES" cat "$m/secret"
expect "$EPERM" "the client's root chmod of it: EPERM" chmod 0666 "$m/secret"
expect "$EPERM" "nobody removing root's file from a sticky directory: EPERM" \
	as_nobody rm -f "$m/pub/rootfile"
expect "$EPERM" "nobody renaming it away: EPERM" as_nobody mv "$m/pub/rootfile" "$m/pub/gone"
check "root's file is still there" [ "$(cat "$s/pub/rootfile")" = root ]
check "the host files are unchanged (owner, mode, size, mtime, data)" [ "$(snap)" = "$before" ]
expect "$EACCES" "nobody (unmapped) creating a file: EACCES, no host file of a real user" \
	as_nobody sh -c ': > "$1"' sh "$m/pub/bynobody"
check "no file was created on the host" [ ! -e "$s/pub/bynobody" ]
expect "$EACCES" "nobody making a directory: EACCES" as_nobody mkdir "$m/pub/nobodydir"
check "no directory was created on the host" [ ! -e "$s/pub/nobodydir" ]
touch "$m/pub/mine"
expect "$EPERM" "the client's root chown to 65534 (unmapped): EPERM" chown 65534:65534 "$m/pub/mine"
check "the host file stays 1000:1000" [ "$(stat -c %u:%g "$s/pub/mine")" = 1000:1000 ]
"$FSBRIDGE" umount "$m"
echo "1..$n"
