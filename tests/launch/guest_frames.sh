#!/bin/bash
# guest_frames.sh: what launch makes of frames only a hostile guest sends,
# from tests/launch/fake_guest standing in for QEMU (no VM boots): an
# ERROR during boot reaches the terminal without its escape sequences; a
# forged exit status ("killed by signal 256", "exit 300") is an error
# (125), never a success; an ERROR flood and a guest writing to its serial
# console cannot grow the supervisor log or the console log past 1 MiB
# (plus one .1).  Needs a guest kernel (the image is built).  TAP.
set -u

. "$(dirname "$0")/../lib/tap.sh"

B=${top_builddir:-.}
LAUNCH=$B/launcher/launch
FAKE=$B/tests/launch/fake_guest
[ -x "$LAUNCH" ] && [ -x "$FAKE" ] || skip_all "launch or fake_guest not built"
"$B/guest-overlay/fsbridge-mkinitramfs" --print-kernel > /dev/null 2>&1 ||
	skip_all "no guest kernel (the guest image is built before QEMU starts)"

tmp=$(mktemp -d /tmp/fsb-frames.XXXXXX)
state=$tmp/state
# --cold: the fake QEMU speaks neither QMP nor PING (no warm start)
L() { "$LAUNCH" --state "$state" --qemu "$FAKE" --accel tcg --cold "$@"; }
cleanup() {
	"$LAUNCH" --state "$state" -q halt -f > /dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/proj/.git"
cd "$tmp/proj" || exit 1
esc=$(printf '\033')

# ---- an ERROR frame during boot ----
FAKE_GUEST=boot-error FAKE_GUEST_TEXT=$(printf '\033]0;pwned\007\033[2Jgone\r\nhidden') \
	L -- true < /dev/null > "$tmp/out" 2> "$tmp/err"; rc=$?
check "a boot ERROR fails the launch (got $rc)" [ "$rc" = 125 ]
check "... its text is shown ($(grep -o 'in the guest.*' "$tmp/err" | head -1 | head -c 120))" grep -q "pwned" "$tmp/err"
check "... with no escape, BEL or carriage-return byte on the terminal" \
	bash -c '! grep -q "[$1$(printf "\007\r")]" "$2"' _ "$esc" "$tmp/err"

# ---- forged exit statuses ----
# (the fake guest's text for the flood below: it reads its environment at boot)
FAKE_GUEST_TEXT=$(head -c 200 /dev/zero | tr '\0' E) L -q boot < /dev/null > /dev/null 2> "$tmp/err"; rc=$?
check "the fake guest boots (got $rc: $(head -c 300 "$tmp/err"))" [ "$rc" = 0 ]
for t in "exited 0:0" "exited 7:7" "exited 255:255" "killed 9:137" "killed 64:192" \
	"killed 256:125" "killed 128:125" "killed 0:125" "exited 256:125" "exited 300:125" \
	"exited 4294967295:125"; do
	L -n -- ${t%%:*} > /dev/null 2> "$tmp/err"; rc=$?
	check "guest says '${t%%:*}': launch exits ${t##*:} (got $rc)" [ "$rc" = "${t##*:}" ]
	if [ "${t##*:}" = 125 ]; then
		check "... with one line saying so" grep -q "impossible exit status" "$tmp/err"
	fi
done

# ---- the logs stay bounded (1 MiB, one .1 kept) ----
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
L -n -- flood 20000 > /dev/null 2>&1; rc=$?
check "an ERROR flood of 4 MB (got $rc)" [ "$rc" = 0 ]
L -n -- console 4096 > /dev/null 2>&1; rc=$?
check "the guest writes 4 MiB to its serial console (got $rc)" [ "$rc" = 0 ]
L -q halt > /dev/null 2>&1
for f in log console; do
	check "$f is at most 1 MiB ($(size "$state/$f")), $f.1 too ($(size "$state/$f.1"))" \
		bash -c '[ "$(stat -c %s "$1")" -le 1048576 ] && [ "$(stat -c %s "$1.1")" -le 1048576 ] &&
			[ "$(stat -c %s "$1.1")" -gt 524288 ]' _ "$state/$f"
done
check "the log still has the supervisor's last words" grep -q "stopped" "$state/log"

echo "1..$n"
