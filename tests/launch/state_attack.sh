#!/bin/bash
# state_attack.sh: another local user (fsb-other) cannot turn launch's state
# directory, volume directory or project lookup against the user who runs
# launch: a directory they pre-created (or can write) is refused with one
# line before anything in it is read, connected to or written; a volume
# image they planted as a symlink is never formatted; a .git they planted
# in a sticky directory does not widen the read-write share.  No VM: a fake
# QEMU and a fake kernel, the boot fails after the parts under test.  TAP.
set -u

. "$(dirname "$0")/../lib/tap.sh"

B=${top_builddir:-.}
LAUNCH=$B/launcher/launch
[ -x "$LAUNCH" ] || skip_all "$LAUNCH not built"
[ "$(id -u)" = 0 ] || skip_all "needs root (to attack as fsb-other)"
test_user fsb-other || skip_all "cannot create the user fsb-other"

tmp=$(mktemp -d /tmp/fsb-stattack.XXXXXX)
chmod 755 "$tmp"
cleanup() { rm -rf --one-file-system "$tmp"; }
trap cleanup EXIT
printf '#!/bin/sh\nexit 1\n' > "$tmp/fakeqemu"
chmod +x "$tmp/fakeqemu"
: > "$tmp/fakekernel"
export FSBRIDGE_VOLUME_DIR=$tmp/myvols
F() { "$LAUNCH" --qemu "$tmp/fakeqemu" --kernel "$tmp/fakekernel" --accel tcg "$@"; }
# a sticky, world-writable place like /tmp, private to this test
mkdir -m 1777 "$tmp/sticky"
mkdir "$tmp/work"

# ---- a state directory fsb-other made ----
as_user fsb-other mkdir -m 755 "$tmp/sticky/theirs"
F --state "$tmp/sticky/theirs/vm" -- true < /dev/null > "$tmp/out" 2> "$tmp/err"; rc=$?
check "a state dir under fsb-other's directory: 125 (got $rc)" [ "$rc" = 125 ]
check "... one line naming the owner ($(head -c 200 "$tmp/err"))" \
	bash -c '[ "$(wc -l < "$1")" = 1 ] && grep -q "owned by uid $(id -u fsb-other)" "$1"' _ "$tmp/err"
check "... and nothing created in it" [ ! -e "$tmp/sticky/theirs/vm" ]

as_user fsb-other mkdir -m 777 "$tmp/sticky/open"
as_user fsb-other ln -s "$tmp/victim-log" "$tmp/sticky/open/log"
F --state "$tmp/sticky/open" -- true < /dev/null 2> "$tmp/err"; rc=$?
check "fsb-other's world-writable state dir with a planted log symlink: 125 (got $rc)" [ "$rc" = 125 ]
check "... no log written through the symlink, no pidfile" \
	bash -c '[ ! -e "$1" ] && [ ! -e "$2/pid" ]' _ "$tmp/victim-log" "$tmp/sticky/open"
for cmd in status halt logs ps; do
	F --state "$tmp/sticky/open" $cmd < /dev/null > /dev/null 2> "$tmp/err"; rc=$?
	check "launch $cmd refuses it too (got $rc)" bash -c '[ "$1" = 125 ] && grep -q "^launch: state directory" "$2"' _ "$rc" "$tmp/err"
done

# fsb-other listening on ctl.sock in a state dir of theirs would receive
# argv, environment and stdin: launch must not connect
as_user fsb-other mkdir -m 700 "$tmp/sticky/fake"
F --state "$tmp/sticky/fake" -e SECRET=hunter2 -- echo hi < /dev/null 2> "$tmp/err"; rc=$?
check "a state dir owned by fsb-other (mode 700, root could enter): 125 (got $rc)" [ "$rc" = 125 ]
check "... nothing written in it (no pidfile, log or sockets)" \
	bash -c '[ -z "$(ls -A "$1")" ]' _ "$tmp/sticky/fake"

mkdir -m 770 "$tmp/groupw"
F --state "$tmp/groupw" status > /dev/null 2> "$tmp/err"; rc=$?
check "our own state dir, group-writable: 125 (got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "writable by its group" "$2"' _ "$rc" "$tmp/err"

F --state "$tmp/sticky/mine/a/b" status > "$tmp/out" 2> "$tmp/err"; rc=$?
check "a state dir of ours created in a sticky directory: fine (got $rc: $(cat "$tmp/err"))" [ "$rc" = 3 ]
F --state "$tmp/sticky/mine/a/b" -- true < /dev/null > /dev/null 2>&1
check "... created mode 0700, parents too" \
	bash -c '[ "$(stat -c %a "$1/mine")" = 700 ] && [ "$(stat -c %a "$1/mine/a/b")" = 700 ]' _ "$tmp/sticky"

# ---- a volume directory fsb-other made: mkfs.ext4 -F on any file ----
# (large enough for mkfs.ext4 to format it, as it did before the fix)
{ echo precious; head -c 16M /dev/zero; } > "$tmp/victim-img"
as_user fsb-other mkdir -m 777 "$tmp/sticky/vols"
as_user fsb-other ln -s "$tmp/victim-img" "$tmp/sticky/vols/v.img"
FSBRIDGE_VOLUME_DIR=$tmp/sticky/vols F --state "$tmp/st1" --volume v:/v boot < /dev/null 2> "$tmp/err"; rc=$?
check "--volume in fsb-other's volume dir: refused (got $rc)" [ "$rc" != 0 ]
check "... the file its image symlink points at is not formatted" \
	[ "$(head -n 1 "$tmp/victim-img")" = precious ]
FSBRIDGE_VOLUME_DIR=$tmp/sticky/vols F volume ls > /dev/null 2> "$tmp/err"; rc=$?
check "volume ls there: 125, one line (got $rc)" \
	bash -c '[ "$1" = 125 ] && [ "$(wc -l < "$2")" = 1 ]' _ "$rc" "$tmp/err"
mkdir -m 700 "$tmp/myvols"
ln -s "$tmp/victim-img" "$tmp/myvols/w.img"
F --state "$tmp/st1" --volume w:/w boot < /dev/null 2> "$tmp/err"; rc=$?
check "an image that is a symlink, even in our own dir, is not formatted (got $rc)" \
	bash -c '[ "$1" != 0 ] && [ "$(head -n 1 "$2")" = precious ] && grep -q "not a regular file" "$3"' _ "$rc" "$tmp/victim-img" "$tmp/err"

# ---- the project directory: a .git planted in a sticky directory ----
as_user fsb-other mkdir "$tmp/sticky/.git"
mkdir -m 755 "$tmp/sticky/proj"
cd "$tmp/sticky/proj" || exit 1
F --state "$tmp/st2" -- true < /dev/null > /dev/null 2>&1
check "fsb-other's .git in the sticky parent does not make it the project ($(grep -o 'project [^,]*' "$tmp/st2/log" | head -1))" \
	grep -q "starting: project $tmp/sticky/proj," "$tmp/st2/log"
mkdir "$tmp/work/.git" "$tmp/work/sub"
cd "$tmp/work/sub" || exit 1
F --state "$tmp/st3" -- true < /dev/null > /dev/null 2>&1
check "our own .git above still marks the project" grep -q "starting: project $tmp/work," "$tmp/st3/log"
chown fsb-other "$tmp/work/.git"
F --state "$tmp/st4" -- true < /dev/null > /dev/null 2>&1
check "... but not one owned by fsb-other" grep -q "starting: project $tmp/work/sub," "$tmp/st4/log"
cd / || exit 1

# ---- options after a subcommand's word (GNU getopt permutation) ----
"$LAUNCH" status --state "$tmp/st5" > "$tmp/out" 2> "$tmp/err"; rc=$?
check "launch status --state DIR: the option after the word is used (got $rc: $(cat "$tmp/err"))" \
	bash -c '[ "$1" = 3 ] && grep -q "state $2" "$3"' _ "$rc" "$tmp/st5" "$tmp/out"
"$LAUNCH" halt --state "$tmp/st5" -f > /dev/null 2> "$tmp/err"; rc=$?
check "launch halt --state DIR -f (got $rc)" [ "$rc" = 0 ]
"$LAUNCH" status --state "$tmp/st5" extra > /dev/null 2> "$tmp/err"; rc=$?
check "... a stray word is still a usage error (got $rc)" [ "$rc" = 2 ]

echo "1..$n"
