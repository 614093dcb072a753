#!/bin/bash
# launch_nfs.sh: `launch --mount nfs://SERVER/EXPORT:GUEST[:ro]` against
# NFS-Ganesha on loopback (tests/nfs/ganesha-lib.sh), in real TCG VMs:
# a file written on the server side is readable in the guest, a file
# written in the guest appears in the exported directory, a directory
# made in the guest is listed on both sides; with :ro the guest reads and
# its writes fail with EROFS.  Skips (saying why) only where Ganesha, QEMU
# or a guest kernel is missing.  TAP.
set -u
export LC_ALL=C

. "$(dirname "$0")/../lib/tap.sh"

B=${top_builddir:-.}
LAUNCH=$B/launcher/launch
QEMU=${FSBRIDGE_QEMU:-qemu-system-$(uname -m)}
[ -x "$LAUNCH" ] || skip_all "$LAUNCH not built"
# shellcheck source=tests/nfs/ganesha-lib.sh
. "$(dirname "$0")/ganesha-lib.sh"
ganesha_check
command -v "$QEMU" >/dev/null 2>&1 || skip_all "no $QEMU"
"$B/guest-overlay/fsbridge-mkinitramfs" --print-kernel >/dev/null 2>&1 ||
	skip_all "no guest kernel (fsbridge-mkinitramfs --print-kernel)"

tmp=$(mktemp -d /tmp/fsb-launch-nfs.XXXXXX) || skip_all "mktemp failed"
state=$tmp/state
export=$tmp/export
L() { "$LAUNCH" --state "$state" --accel tcg "$@"; }
# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
	"$LAUNCH" --state "$state" -q halt -f >/dev/null 2>&1
	ganesha_stop
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$tmp/proj/.git" "$export"
echo from-server > "$export/from-server"

ganesha_setup "$tmp/ganesha"
ganesha_export 1 "$export" /fsblaunch
ganesha_first_start
URL="nfs://127.0.0.1/fsblaunch?version=4&nfsport=$PORT"
cd "$tmp/proj" || exit 1

# ---- rw ----
out=$(L -q --mount "$URL:/nfsdata" -- cat /nfsdata/from-server 2>&1); rc=$?
check "boot with --mount $URL:/nfsdata; a file made on the server reads in the guest (got $rc: $out)" \
	test "$rc" = 0 -a "$out" = from-server
check "... the server for it serves the URL" grep -qF "serving $URL (rw) at /nfsdata" "$state/log"
out=$(L -- sh -c 'echo from-guest > /nfsdata/from-guest && mkdir /nfsdata/guestdir &&
	echo inner > /nfsdata/guestdir/inner && ls /nfsdata' 2>&1); rc=$?
check "a file written in the guest appears in the exported directory (got $rc)" \
	bash -c '[ "$1" = 0 ] && [ "$(cat "$2/from-guest")" = from-guest ] &&
		[ "$(cat "$2/guestdir/inner")" = inner ]' _ "$rc" "$export"
list=" $(printf '%s' "$out" | tr '\n' ' ') "
check "... and the guest lists both files (got '$list')" \
	bash -c '[[ $1 == *" from-guest "* ]] && [[ $1 == *" from-server "* ]]' _ "$list"
echo changed-on-server > "$export/from-server"
sleep 2		# the fallback attribute timeout (1 s) runs out
out=$(L -- cat /nfsdata/from-server 2>&1)
check "a change made on the server is seen in the guest (got '$out')" [ "$out" = changed-on-server ]
L -q halt; rc=$?
check "halt (got $rc)" [ "$rc" = 0 ]

# ---- ro ----
out=$(L -q --mount "$URL:/nfsdata:ro" -- cat /nfsdata/guestdir/inner 2>&1); rc=$?
check "boot with --mount $URL:/nfsdata:ro; reads work (got $rc: $out)" test "$rc" = 0 -a "$out" = inner
check "... its server got ro" grep -qF "serving $URL (ro) at /nfsdata" "$state/log"
out=$(L -- sh -c 'echo x > /nfsdata/new' 2>&1); rc=$?
check "... a write fails with EROFS (got $rc: $out)" \
	bash -c '[ "$1" != 0 ] && [[ "$2" == *"Read-only file system"* ]] && ! [ -e "$3/new" ]' _ "$rc" "$out" "$export"
out=$(L -- sh -c 'rm /nfsdata/from-guest' 2>&1); rc=$?
check "... so does an unlink, and the file stays (got $rc: $out)" \
	bash -c '[ "$1" != 0 ] && [[ "$2" == *"Read-only file system"* ]] && [ -e "$3/from-guest" ]' _ "$rc" "$out" "$export"
L -q halt; rc=$?
check "halt (got $rc)" [ "$rc" = 0 ]
echo "1..$n"
