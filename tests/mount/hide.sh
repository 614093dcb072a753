#!/bin/bash
# hide.sh: hide=PATH through a real mount: a hidden file or directory is
# absent from its directory's listing and ENOENT to lookups, stays hidden
# under another name (a hard link, a rename on the host), a hidden name
# created on the host after the mount is hidden too (also inside a
# directory renamed on the host), a client cannot create or remove a
# hidden name, expose=PATH takes a rule back, and `fsbridge policy`
# prints the rules.  TAP.
set -u
. "$(dirname "$0")/../lib/tap.sh"
if [ "$(id -u)" -ne 0 ] || [ ! -e /dev/fuse ] || [ -z "${FSBRIDGE:-}" ]; then
	echo "1..0 # SKIP needs root, /dev/fuse and FSBRIDGE"; exit 0
fi
tmp=$(mktemp -d /tmp/fsb-hide.XXXXXX)
trap '"$FSBRIDGE" umount "$tmp/mnt" 2>/dev/null; rm -rf --one-file-system "$tmp"' EXIT
src=$tmp/src mnt=$tmp/mnt
mkdir -p "$src/etc" "$src/home/alice" "$src/home/bob/.ssh" "$src/home/bob/src" "$src/pub" "$mnt"
echo secret > "$src/etc/shadow"
echo pub > "$src/etc/passwd"
echo key > "$src/home/bob/.ssh/id_ed25519"
echo alice > "$src/home/alice/notes"
ln "$src/etc/shadow" "$src/pub/early-link"

absent() {	# absent DIR NAME: not listed, lookup ENOENT
	! ls -a "$1" | grep -qx -- "$2" &&
	[ "$(stat -c %n "$1/$2" 2>&1)" != "$1/$2" ] &&
	stat "$1/$2" 2>&1 | grep -q "No such file"
}

check "mount with four hide rules" "$FSBRIDGE" mount \
	-o ro,hide=/etc/shadow,hide=home/alice,hide=/home/bob/.ssh,hide=/home/bob/.aws "$src" "$mnt"
check "etc/shadow: not listed, ENOENT" absent "$mnt/etc" shadow
check "etc/shadow: cannot be read" bash -c "! cat '$mnt/etc/shadow' 2>/dev/null"
check "etc/passwd: still there" [ "$(cat "$mnt/etc/passwd")" = pub ]
check "home/alice: not listed, ENOENT" absent "$mnt/home" alice
check "home/alice/notes: ENOENT" bash -c "stat '$mnt/home/alice/notes' 2>&1 | grep -q 'No such file'"
check "home/bob listed, home/bob/src visible" [ -d "$mnt/home/bob/src" ]
check "home/bob/.ssh: not listed, ENOENT" absent "$mnt/home/bob" .ssh
check "a hard link to a hidden file made before the mount is hidden" absent "$mnt/pub" early-link
ln "$src/etc/shadow" "$src/pub/late-link"
check "a hard link made after the mount is hidden" absent "$mnt/pub" late-link
mv "$src/home/bob/.ssh" "$src/home/bob/ssh-old"
check "a hidden directory renamed on the host stays hidden" absent "$mnt/home/bob" ssh-old
mkdir "$src/home/bob/.aws" && echo k > "$src/home/bob/.aws/credentials"
check "a hidden path created after the mount is hidden" absent "$mnt/home/bob" .aws
mv "$src/home/bob" "$src/home/robert"
mkdir "$src/home/robert/.ssh"
check "home/bob renamed on the host: its rules follow it (.aws)" absent "$mnt/home/robert" .aws
check "home/bob renamed on the host: its rules follow it (new .ssh)" absent "$mnt/home/robert" .ssh
check "home/robert/src still visible" [ -d "$mnt/home/robert/src" ]
"$FSBRIDGE" umount "$mnt"

check "rw mount with hide=etc/shadow" "$FSBRIDGE" mount -o rw,hide=etc/shadow "$src" "$mnt"
check "creating a hidden name is refused (EACCES)" \
	bash -c "touch '$mnt/etc/shadow' 2>&1 | grep -q 'Permission denied'"
check "removing a hidden name: ENOENT" bash -c "rm '$mnt/etc/shadow' 2>&1 | grep -q 'No such file'"
check "renaming over a hidden name is refused" bash -c "! mv '$mnt/etc/passwd' '$mnt/etc/shadow' 2>/dev/null"
check "the host file is untouched" [ "$(cat "$src/etc/shadow")" = secret ] 
check "renaming a hard link of it (hidden by identity): ENOENT" \
	bash -c "mv '$mnt/pub/late-link' '$mnt/pub/x' 2>&1 | grep -q 'No such file'"
"$FSBRIDGE" umount "$mnt"

check "mount with hide=etc,expose=/etc" "$FSBRIDGE" mount -o ro,hide=etc,expose=/etc "$src" "$mnt"
check "expose takes the rule back" [ "$(cat "$mnt/etc/shadow")" = secret ]
"$FSBRIDGE" umount "$mnt"
printf 'ro\nhide = /etc/shadow\nhide = /home\n' > "$tmp/pol"
check "fsbridge policy prints the rules" \
	bash -c "'$FSBRIDGE' policy check '$tmp/pol' | grep -qx 'hide = /home'"
check "a bad rule is refused" bash -c "! '$FSBRIDGE' mount -o hide=a/../b '$src' '$mnt' 2>/dev/null"
echo "1..$n"
