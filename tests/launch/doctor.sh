#!/bin/bash
# doctor.sh: `launch doctor` (no VM): one line per check, and on broken
# setups (no QEMU, a missing kernel, an unwritable state dir) a non-zero
# exit with the matching FAIL line.  TAP.
set -u

. "$(dirname "$0")/../lib/tap.sh"

B=${top_builddir:-.}
LAUNCH=$B/launcher/launch
[ -x "$LAUNCH" ] || skip_all "$LAUNCH not built"

tmp=$(mktemp -d /tmp/fsb-doctor.XXXXXX)
trap 'chmod -R u+w "$tmp"; rm -rf --one-file-system "$tmp"' EXIT
export FSBRIDGE_VOLUME_DIR=$tmp/vols
D() { "$LAUNCH" --state "$tmp/state" "$@" doctor > "$tmp/out" 2>&1; }

D; rc=$?
sed 's/^/# /' "$tmp/out"
check "every check prints ok, FAIL or warn" bash -c '! grep -Ev "^(ok|FAIL|warn) " "$1"' _ "$tmp/out"
for what in qemu fsbridge fsbridge-mkinitramfs fsbridge-init fsbridge-agent kernel modules accel kvm memfd fuse fusermount3 state volumes warm; do
	check "a line for $what" grep -Eq "^(ok|FAIL) +$what: " "$tmp/out"
done
check "exit 0 exactly when nothing failed (got $rc)" \
	bash -c 'if grep -q ^FAIL "$1"; then [ "$2" = 1 ]; else [ "$2" = 0 ]; fi' _ "$tmp/out" "$rc"

FSBRIDGE_QEMU=/nonexistent D; rc=$?
check "FSBRIDGE_QEMU=/nonexistent: non-zero (got $rc)" [ "$rc" != 0 ]
check "... FAIL qemu naming it and what to do" grep -Eq '^FAIL +qemu: /nonexistent not found; install' "$tmp/out"

D --qemu /nonexistent/qemu; rc=$?
check "--qemu /nonexistent/qemu: non-zero with the FAIL line (got $rc)" \
	bash -c '[ "$1" != 0 ] && grep -Eq "^FAIL +qemu: /nonexistent/qemu" "$2"' _ "$rc" "$tmp/out"

D --kernel /nonexistent; rc=$?
check "--kernel /nonexistent: non-zero (got $rc)" [ "$rc" != 0 ]
check "... FAIL kernel naming it" grep -Eq '^FAIL +kernel: --kernel /nonexistent: no such file' "$tmp/out"

touch "$tmp/vmlinuz-0.0-none"
D --kernel "$tmp/vmlinuz-0.0-none"; rc=$?
check "a kernel without modules: non-zero with FAIL modules (got $rc)" \
	bash -c '[ "$1" != 0 ] && grep -Eq "^FAIL +modules: /lib/modules/0.0-none is missing" "$2"' _ "$rc" "$tmp/out"

if [ "$(id -u)" != 0 ]; then
	# a kernel image only root may read (Debian and Ubuntu may install them so)
	k=$("$B/guest-overlay/fsbridge-mkinitramfs" --print-kernel 2>/dev/null)
	k=$tmp/$(basename "${k:-vmlinuz-0.0-none}")
	touch "$k" && chmod 000 "$k"
	D --kernel "$k"; rc=$?
	check "a kernel the user cannot read: non-zero, FAIL kernel saying to chmod 0644 (got $rc)" \
		bash -c '[ "$1" != 0 ] && grep -Eq "^FAIL +kernel: .*not readable by you .*chmod 0644" "$2"' _ "$rc" "$tmp/out"
	"$LAUNCH" --state "$tmp/state" --kernel "$k" -- true \
		< /dev/null > "$tmp/out" 2>&1; rc=$?
	check "... and launch refuses it at once, one line (125, got $rc)" \
		bash -c '[ "$1" = 125 ] && [ "$(wc -l < "$2")" = 1 ] && grep -q "not readable by you" "$2"' _ "$rc" "$tmp/out"
	mkdir -p "$tmp/ro" && chmod 500 "$tmp/ro"
	"$LAUNCH" --state "$tmp/ro/state" doctor > "$tmp/out" 2>&1; rc=$?
	check "an unwritable state dir: non-zero with FAIL state (got $rc)" \
		bash -c '[ "$1" != 0 ] && grep -Eq "^FAIL +state: " "$2"' _ "$rc" "$tmp/out"
else
	echo "# root: skipping the unwritable state dir"
	echo "/nope" > "$tmp/file"
	"$LAUNCH" --state "$tmp/file/state" doctor > "$tmp/out" 2>&1; rc=$?
	check "a state dir under a regular file: non-zero with FAIL state (got $rc)" \
		bash -c '[ "$1" != 0 ] && grep -Eq "^FAIL +state: " "$2"' _ "$rc" "$tmp/out"
fi
check "warm start is on by default" grep -Eq '^ok +warm: on \(the default' "$tmp/out"
FSBRIDGE_WARM=0 D
check "FSBRIDGE_WARM=0: warm start is off" grep -Eq '^ok +warm: off' "$tmp/out"
# a guest of 1 TiB: no disk here has room for its RAM file twice
echo 1048576 > "$tmp/state/mem"
D
check "a state dir without room for a warm VM's RAM: warn warm, saying what to do" \
	grep -Eq '^warn +warm: [0-9]+ MiB free in .*--cold' "$tmp/out"
rm -f "$tmp/state/mem"
"$LAUNCH" doctor extra > /dev/null 2>&1; rc=$?
check "doctor with an argument is a usage error (got $rc)" [ "$rc" = 2 ]
echo "1..$n"
