#!/bin/bash
# roots.sh: the guest's root.  One VM on the host's root: the shared
# throw-away overlay, --isolated (a fresh overlay per command, in its own
# mount namespace), `launch console` (a shell on the serial console,
# started by the first input);
# then a second boot with --root DIR (a small busybox root tree), and the
# errors of --root.  TAP, plan at the end.
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/launch.sh"

launch_suite roots guest
proj=$tmp/proj
mkdir -p "$proj/.git"
cd "$proj" || exit 1
marker=fsb-roots-$$
# a directory outside the project the guest command may write in: /etc for
# root; for an ordinary user one of its own (the guest keeps host permissions)
W=/etc
if [ "$(id -u)" != 0 ]; then
	W=$tmp/outside
	mkdir "$W"
fi

# ---- the shared overlay ----
L -- sh -c "echo shared > $W/$marker-shared" < /dev/null; rc=$?
check "a write outside the project in the guest succeeds (exit $rc)" [ "$rc" = 0 ]
if [ "$rc" != 0 ]; then
	tail -20 "$state/console" | sed 's/^/# console: /'
fi
out=$(L -- cat "$W/$marker-shared" < /dev/null)
check "... and the next command sees it (shared overlay; got '$out')" [ "$out" = shared ]
check "... the host does not" [ ! -e "$W/$marker-shared" ]
mounts_before=$(L -- sh -c 'wc -l < /proc/self/mountinfo' < /dev/null)

# ---- --isolated ----
out=$(L --isolated -- sh -c "cat $W/$marker-shared 2>/dev/null || echo absent" < /dev/null)
check "--isolated: a fresh overlay, without the shared overlay's files (got '$out')" [ "$out" = absent ]
out=$(L --isolated -- sh -c "echo iso > $W/$marker-iso && cat $W/$marker-iso" < /dev/null)
check "... writes outside the project work in it (got '$out')" [ "$out" = iso ]
out=$(L -- sh -c "cat $W/$marker-iso 2>/dev/null || echo gone" < /dev/null)
check "... and are gone for the next command (got '$out')" [ "$out" = gone ]
out=$(L --isolated -- sh -c "cat $W/$marker-iso 2>/dev/null || echo gone" < /dev/null)
check "... also for the next isolated one (got '$out')" [ "$out" = gone ]
check "... and never reached the host" [ ! -e "$W/$marker-iso" ]
L --isolated -- sh -c 'echo from-isolated > iso-file' < /dev/null
check "... a write in the project reaches the host" \
	bash -c '[ "$(cat "$1")" = from-isolated ]' _ "$proj/iso-file"
out=$(L --isolated -- sh -c '[ -c /dev/null ] && [ -d /proc/self/fd ] && [ -d /sys/kernel ] &&
	[ -d /dev/pts ] && pwd' < /dev/null)
check "... /dev, /proc, /sys are there, the directory is the same (got '$out')" [ "$out" = "$proj" ]
out=$(L --isolated -- sh -c '[ -e /fsb ] && echo visible || echo hidden' < /dev/null)
check "... the agent's own mounts are not visible (got '$out')" [ "$out" = hidden ]
# (a name the host's own /tmp, which the guest's root shows, does not have)
x=/tmp/$(basename "$tmp")-iso
L --isolated -- sh -c 'echo A > "$1"; sleep 4; cat "$1"' _ "$x" < /dev/null > "$tmp/i1" &
p1=$!
sleep 2
L --isolated -- sh -c 'cat "$1" 2>/dev/null || echo none; echo B > "$1"' _ "$x" < /dev/null > "$tmp/i2"
wait $p1
check "... two isolated commands at once do not see each other's files (got '$(cat "$tmp/i1")' and '$(cat "$tmp/i2")')" \
	bash -c '[ "$(cat "$1")" = A ] && [ "$(cat "$2")" = none ]' _ "$tmp/i1" "$tmp/i2"
out=$(L -- sh -c 'wc -l < /proc/self/mountinfo' < /dev/null)
check "... their mounts went with them ($mounts_before mounts before, $out after)" \
	[ "$out" = "$mounts_before" ]
if command -v script > /dev/null; then
	out=$(script -qec "$LAUNCH --state $state -t --isolated -- tty" /dev/null < /dev/null | tr -d '\r')
	check "... with a pseudo-terminal too (got '$(tr -cd '[:print:]' <<< "$out")')" grep -q '/dev/pts/[0-9]' <<< "$out"
fi

# ---- host changes reach a running command (change hints, the agent) ----
echo v1 > "$proj/edited"
L -- sh -c 'cat edited; [ -e created ] || echo absent; echo ready;
	i=0; while [ $i -lt 100 ]; do
		[ "$(cat edited)" = "v2, longer" ] && [ -e created ] && { echo seen; exit 0; }
		sleep 0.1; i=$((i + 1)); done; echo "not seen: $(cat edited)"; ls' \
	< /dev/null > "$tmp/hint.out" 2>&1 &
p1=$!
for _ in $(seq 300); do grep -q '^ready' "$tmp/hint.out" && break; sleep 0.1; done
echo "v2, longer" > "$proj/edited"
: > "$proj/created"
wait $p1
check "a running command sees a host edit in place and a new name (names and attributes cached long, hints)" \
	bash -c 'grep -q "^absent" "$1" && grep -q "^seen" "$1"' _ "$tmp/hint.out"
grep -q '^seen' "$tmp/hint.out" || sed 's/^/# /' "$tmp/hint.out"
mkdir -p "$proj/burst"
echo old > "$proj/burst/kept"
echo x > "$proj/burst/removed"
L -- sh -c 'ls burst > /dev/null; cat burst/kept burst/removed' < /dev/null > /dev/null
for i in $(seq 600); do echo "$i" > "$proj/burst/n$i"; done
rm "$proj/burst/removed"
echo new > "$proj/burst/kept"
out=$(L -- sh -c 'ls burst | wc -l; cat burst/n600 burst/kept; [ -e burst/removed ] || echo removed-gone' < /dev/null | tr '\n' ' ')
check "after a burst of 600 host creates, a removal and an edit, the next command sees them all (got '$out')" \
	[ "$out" = "601 600 new removed-gone " ]
rm -rf "$proj/burst"
out=$(L -- sh -c '[ -e burst ] && echo still || echo gone' < /dev/null)
check "... and the removal of the whole directory (got '$out')" [ "$out" = gone ]

# ---- console ----
# stdin stays open until the shell has answered in the console log (at
# most 30 s): under load a shell started at the first input can take
# longer than the 3 quiet seconds after which console -i detaches
out=$( (printf 'echo con-$((6 * 7))\n'
	for _ in $(seq 300); do grep -q 'con-42' "$state/console" && break; sleep 0.1; done) |
	L console -i)
grep -q 'con-42' <<< "$out"; con=$?
check "console -i: the guest's console runs a shell (got '$(tr -cd '[:print:]' <<< "$out" | tail -c 60)')" \
	[ "$con" = 0 ]
[ "$con" = 0 ] || { tail -c 600 "$state/console" | sed 's/^/# console: /'
	grep -v '^fsbridge:' "$state/log" | tail -8 | sed 's/^/# log: /'
	sleep 10; tail -c 200 "$state/console" | sed 's/^/# console 10 s later: /'; }
L console < /dev/null > "$tmp/con"
check "console without a terminal prints what the console showed" grep -q fsbridge-agent "$tmp/con"
(sleep 6) | L console -i > /dev/null &
p1=$!
sleep 2.5
L console -i < /dev/null > /dev/null 2> "$tmp/err"; rc=$?
wait $p1
check "a second console -i while one is attached: refused (exit $rc)" \
	bash -c '[ "$1" = 1 ] && grep -q "another .launch console. is attached" "$2"' _ "$rc" "$tmp/err"
if command -v script > /dev/null; then
	out=$( (sleep 1.5; printf 'echo tty-$((2 + 3))\r'; sleep 6; printf '\035'; sleep 1) |
		script -qec "$LAUNCH --state $state console; echo rc=\$?" /dev/null | tr -d '\r')
	check "console on a terminal: attached, Ctrl-] detaches (exit 0)" \
		bash -c 'grep -q "tty-5" <<< "$1" && grep -q "Detached" <<< "$1" && grep -q "rc=0" <<< "$1"' _ "$out"
fi
L -q halt

# ---- --root DIR ----
root=$tmp/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp"
cp /bin/busybox "$root/bin/"
for lib in $(ldd /bin/busybox 2>/dev/null | grep -o '/[^ ]*'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
for a in sh cat ls echo pwd; do ln -s busybox "$root/bin/$a"; done
echo "NAME=fsbridge-test-root" > "$root/etc/os-release"
out=$(L --root "$root" -- cat /etc/os-release < /dev/null)
check "--root DIR: the guest's root is DIR (got '$out')" [ "$out" = NAME=fsbridge-test-root ]
out=$(L -- sh -c '[ -e /usr/bin ] && echo host || echo own' < /dev/null)
check "... and not the host's (got '$out')" [ "$out" = own ]
out=$(L -- sh -c 'pwd; echo in-root > root-file' < /dev/null)
check "... the project is at its own path, read-write (got '$out')" \
	bash -c '[ "$1" = "$2" ] && [ "$(cat "$2/root-file")" = in-root ]' _ "$out" "$proj"
L -- sh -c 'echo x > /etc/added' < /dev/null
check "... DIR itself is never written (the overlay takes it)" [ ! -e "$root/etc/added" ]
L status > "$tmp/status"
check "... status names the root" grep -q "^root *$root\$" "$tmp/status"
L --root / -- true < /dev/null 2> "$tmp/err"; rc=$?
check "a running VM with another root refuses --root / (125, got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "root is .*, not /;" "$2"' _ "$rc" "$tmp/err"
L -q halt
"$LAUNCH" --state "$tmp/state2" --root "$tmp/nonexistent" -- true < /dev/null 2> "$tmp/err"; rc=$?
check "--root of a missing directory: 125 and one line naming it (got $rc)" \
	bash -c '[ "$1" = 125 ] && [ "$(wc -l < "$2")" = 1 ] && grep -q "nonexistent: No such file" "$2"' \
	_ "$rc" "$tmp/err"
"$LAUNCH" --state "$tmp/state2" --root /etc/hostname -- true < /dev/null 2> "$tmp/err"; rc=$?
check "--root of a file: 125, not a directory (got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "not a directory" "$2"' _ "$rc" "$tmp/err"
check "... and no VM is left" bash -c '! "$1" --state "$2" status > /dev/null' _ "$LAUNCH" "$tmp/state2"

echo "1..$n"
exit 0
