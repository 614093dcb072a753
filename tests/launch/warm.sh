#!/bin/bash
# warm.sh: the warm start (launch(1)) in a real QEMU guest (TCG): the
# first boot saves a state, a stopped VM is restored from it, a host edit
# made while it was stopped is seen at once, a corrupt state is reported
# in one line and booted past (a changed vmstate, a truncated RAM file),
# --cold boots, state ls/rm, a disk full
# while saving leaves no half state (root: a small tmpfs).  Five boots,
# two restores.  TAP, plan at the end.
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/launch.sh"

launch_suite warm guest
proj=$tmp/proj
saved=$state/warm/default
# warm start is the default: not asked for here
unset FSBRIDGE_WARM
mkdir -p "$proj/.git"
cd "$proj" || exit 1
ms() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }
# the log lines of the last start (since its "starting:" line)
last_start() { awk '/supervisor\[[0-9]+\]: starting:/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' "$state/log"; }
# the copy for the next restore is made in the background: wait for it
export -f last_start
export state
wait_next() { for _ in $(seq 1 600); do [ -e "$saved/mem.next" ] && return 0; sleep 0.2; done; return 1; }

# ---- the first boot saves a state ----
echo v1 > "$proj/f.txt"
t0=$EPOCHREALTIME
L -- cat f.txt < /dev/null > "$tmp/out"; rc=$?
echo "# first command (boot and save included): $(ms "$t0") ms"
check "first launch boots, runs, exits 0 (got $rc)" [ "$rc" = 0 ]
check "... and reads the project (v1)" grep -qx v1 "$tmp/out"
check "... the log says it saved state default" bash -c 'last_start | grep -q "saved state default in"'
check "... a complete saved state (header written last)" bash -c \
	'[ -s "$1/header" ] && [ -s "$1/vmstate" ] && [ -e "$1/mem" ] && grep -qx end "$1/header"' _ "$saved"
check "... its RAM file is read-only" bash -c '[ "$(stat -c %a "$1/mem")" = 400 ]' _ "$saved"
L state ls > "$tmp/ls"
check "state ls lists it" grep -q '^default ' "$tmp/ls"
check "the copy for the next restore is made in the background" wait_next

# ---- halt, edit on the host, restore ----
L -q halt
echo v2 > "$proj/f.txt"
mkdir -p "$proj/newdir" && echo n > "$proj/newdir/new.txt"
t0=$EPOCHREALTIME
L -- sh -c 'cat f.txt newdir/new.txt; date +%s' < /dev/null > "$tmp/out"; rc=$?
echo "# launch after halt, restored: $(ms "$t0") ms"
check "launch after halt restores and exits 0 (got $rc)" [ "$rc" = 0 ]
check "... the log says restored" bash -c "last_start | grep -q 'restored saved state default'"
check "... the host edit made while stopped is seen (v2)" bash -c 'head -1 "$1" | grep -qx v2' _ "$tmp/out"
check "... and a directory made while stopped" bash -c 'sed -n 2p "$1" | grep -qx n' _ "$tmp/out"
now=$(date +%s)
check "... the guest clock is the host's (not the save's)" bash -c \
	'g=$(sed -n 3p "$1"); [ $(( $2 - g )) -le 5 ] && [ $(( g - $2 )) -le 5 ]' _ "$tmp/out" "$now"
L -- sh -c 'echo w > f.txt' < /dev/null
check "... and writes reach the host" grep -qx w "$proj/f.txt"
t0=$EPOCHREALTIME
L -- true < /dev/null
echo "# a command in the running (restored) VM: $(ms "$t0") ms"
L -- sh -c 'cat /proc/sys/kernel/random/boot_id' < /dev/null > "$tmp/r1"
wait_next

# ---- a corrupt state: one line, then a boot ----
L -q halt
printf 'XXXX' | dd of="$saved/vmstate" bs=1 seek=1000 conv=notrunc 2>/dev/null
L -- true < /dev/null 2> "$tmp/err"; rc=$?
check "a corrupt state: the command still runs (got $rc)" [ "$rc" = 0 ]
check "... reported in one line" bash -c '[ "$(wc -l < "$1")" = 1 ] && grep -q "saved state default: corrupt" "$1"' _ "$tmp/err"
sed 's/^/# stderr: /' "$tmp/err"
check "... and the VM booted (and saved anew)" bash -c "last_start | grep -q 'saved state default in'"
wait_next

# ---- a truncated RAM file: one line, then a boot ----
L -q halt
chmod u+w "$saved/mem" && truncate -s 4096 "$saved/mem"
L -- true < /dev/null 2> "$tmp/err"; rc=$?
check "a truncated RAM file: the command still runs (got $rc)" [ "$rc" = 0 ]
check "... reported in one line" bash -c '[ "$(wc -l < "$1")" = 1 ] &&
	grep -q "saved state default: corrupt: its RAM file is missing or not of its size" "$1"' _ "$tmp/err"
sed 's/^/# stderr: /' "$tmp/err"
check "... and the VM booted (and saved anew)" bash -c "last_start | grep -q 'saved state default in'"
wait_next

# ---- --cold ----
L -q halt
L --cold -- true < /dev/null; rc=$?
check "--cold boots (got $rc)" [ "$rc" = 0 ]
check "... without restoring or saving" bash -c "! last_start | grep -q 'restored\|saved state'"
L -q halt

# ---- state rm ----
L state rm default; rc=$?
check "state rm default (got $rc)" [ "$rc" = 0 ]
L state ls > "$tmp/ls"
check "... state ls no longer lists it" bash -c '! grep -q "^default " "$1"' _ "$tmp/ls"
L state rm default 2> /dev/null; rc=$?
check "state rm of a missing state fails (got $rc)" [ "$rc" = 125 ]

# ---- a disk full while saving: no half state ----
# (the saved states on a 16 MiB tmpfs: the vmstate fits, the RAM file
# does not; mounting one takes root)
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$state/warm"
	launch_suite_done() { umount -l "$state/warm" 2> /dev/null; }
	if mount -t tmpfs -o size=16m,mode=0700 fsb-warm-full "$state/warm"; then
		L -- true < /dev/null 2> "$tmp/err"; rc=$?
		check "disk full while saving: the command still runs (got $rc)" [ "$rc" = 0 ]
		check "... one line says the state was not saved, and why" bash -c \
			'[ "$(wc -l < "$1")" = 1 ] && grep -q "could not save state default: .*No space left" "$1"' _ "$tmp/err"
		sed 's/^/# stderr: /' "$tmp/err"
		check "... and nothing is left in the state directory" \
			bash -c '[ -z "$(ls -A "$1")" ]' _ "$state/warm"
		L state ls > "$tmp/ls"
		check "... state ls lists nothing" bash -c '! grep -q "^default " "$1"' _ "$tmp/ls"
		L -q halt
		umount -l "$state/warm"
	else
		not_ok "mount a 16 MiB tmpfs on $state/warm"
	fi
else
	ok "# SKIP disk full while saving: mounting a small tmpfs takes root"
fi

echo "1..$n"
