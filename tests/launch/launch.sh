#!/bin/bash
# launch.sh: `launch -- CMD` in a real QEMU guest (TCG), one VM for the
# whole script: exit statuses, signals, streams, stdin, environment,
# working directory, what reaches the host and what does not, host edits,
# concurrent commands, status/halt, a crashed supervisor, and the errors.
# TAP, plan at the end.
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/launch.sh"

launch_suite launch guest
proj=$tmp/proj
mkdir -p "$proj/.git" "$proj/sub"
cd "$proj/sub" || exit 1

# ---- boot and exit statuses ----
t0=$EPOCHREALTIME
L -- true < /dev/null
rc=$?
echo "# first command (boot included): $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
check "launch -- true boots the VM and exits 0 (got $rc)" [ "$rc" = 0 ]
if [ "$rc" != 0 ]; then
	sed 's/^/# log: /' "$state/log" | tail -20
	sed 's/^/# console: /' "$state/console" | tail -20
fi
t0=$EPOCHREALTIME
L -- true < /dev/null
echo "# warm launch -- true: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms"
L -- sh -c 'exit 7' < /dev/null; rc=$?
check "exit 7 -> 7 (got $rc)" [ "$rc" = 7 ]
L -- sh -c 'kill -9 $$' < /dev/null; rc=$?
check "killed by SIGKILL -> 137 (got $rc)" [ "$rc" = 137 ]
L -- sh -c 'kill -TERM $$' < /dev/null; rc=$?
check "killed by SIGTERM -> 143 (got $rc)" [ "$rc" = 143 ]
L -- fsb-no-such-command < /dev/null 2> "$tmp/nf.err"; rc=$?
check "a command that does not exist -> 127 (got $rc)" [ "$rc" = 127 ]
check "... with a message naming it" grep -q fsb-no-such-command "$tmp/nf.err"

# ---- streams ----
L -- sh -c 'echo out1; echo err1 >&2; echo out2; echo err2 >&2' < /dev/null > "$tmp/o" 2> "$tmp/e"
check "stdout and stderr stay separate" \
	bash -c '[ "$(cat "$1")" = "out1
out2" ] && [ "$(cat "$2")" = "err1
err2" ]' _ "$tmp/o" "$tmp/e"
head -c 1048576 /dev/urandom > "$tmp/rand"
L -- cat < "$tmp/rand" > "$tmp/rand.out"
check "1 MiB of random bytes through cat, byte-exact" cmp -s "$tmp/rand" "$tmp/rand.out"
L -- sh -c 'cat >&2' < "$tmp/rand" 2> "$tmp/rand.err"
check "... and through stderr" cmp -s "$tmp/rand" "$tmp/rand.err"
out=$(printf 'abc' | L -- sh -c 'cat; echo " EOF seen"')
check "stdin reaches the command and its EOF too (got '$out')" [ "$out" = "abc EOF seen" ]
out=$(echo data | L -n -- sh -c 'cat; echo end')
check "-n: the command's stdin is empty, launch's is left alone (got '$out')" [ "$out" = end ]
out=$(L -- sh -c 'cat; echo empty' < /dev/null)
check "an empty stdin is an immediate EOF" [ "$out" = empty ]
L -- yes < /dev/null | head -c 4 > /dev/null
st=("${PIPESTATUS[@]}")
check "a closed stdout gives the command SIGPIPE (141, got ${st[0]})" [ "${st[0]}" = 141 ]

# ---- argv, environment, working directory ----
out=$(L -- printf '[%s]' 'a b' '' 'c*' "d'e" < /dev/null)
check "argv carried exactly (got $out)" [ "$out" = "[a b][][c*][d'e]" ]
out=$(FSB_TEST_VAR='x y$z' L -- printenv FSB_TEST_VAR < /dev/null)
check "the environment is carried (got '$out')" [ "$out" = 'x y$z' ]
out=$(L -e FSB_A=1 --no-env -- /usr/bin/env < /dev/null)
check "--no-env -e NAME=VALUE passes only that (got '$out')" [ "$out" = FSB_A=1 ]
printf '# comment\n\nFSB_F1=one two\nFSB_F2=a=b\nFSB_PASSED\n' > "$tmp/envf"
out=$(FSB_PASSED=host L --no-env --env-file "$tmp/envf" -e FSB_F1=override -- /usr/bin/env < /dev/null | sort | tr '\n' ' ')
check "--env-file: NAME=VALUE as written, NAME passes the host's, a later -e wins (got '$out')" \
	[ "$out" = "FSB_F1=override FSB_F2=a=b FSB_PASSED=host " ]
printf 'FSB_OK=1\nnot a name=2\n' > "$tmp/envbad"
L --env-file "$tmp/envbad" -- true < /dev/null 2> "$tmp/err"; rc=$?
check "--env-file with a bad line: exit 2, the line named (got $rc)" \
	bash -c '[ "$1" = 2 ] && grep -q "envbad: line 2: expected NAME=VALUE" "$2"' _ "$rc" "$tmp/err"
L --env-file "$tmp/nonexistent" -- true < /dev/null 2> "$tmp/err"; rc=$?
check "--env-file of a missing file: exit 2 (got $rc)" \
	bash -c '[ "$1" = 2 ] && grep -q "No such file" "$2"' _ "$rc" "$tmp/err"
out=$(L -- pwd < /dev/null)
check "the working directory is carried (got $out)" [ "$out" = "$proj/sub" ]

# ---- files ----
L -- sh -c "echo from-guest > '$proj/sub/guest.txt'" < /dev/null
check "a file written in the guest under the project is on the host" \
	grep -qx from-guest "$proj/sub/guest.txt"
if [ "$(id -u)" = 0 ]; then
	out=$(L -- sh -c "echo t > '$tmp/outside.txt' && echo e > /etc/fsb-launch-test && cat /etc/fsb-launch-test" < /dev/null)
	check "the guest may write outside the project (overlay) (got '$out')" [ "$out" = e ]
else
	# an ordinary user: where the host lets it, and not in /etc
	out=$(L -- sh -c "echo e > '$tmp/outside.txt' && cat '$tmp/outside.txt'" < /dev/null)
	check "the guest may write outside the project (overlay) (got '$out')" [ "$out" = e ]
	L -- sh -c 'echo e > /etc/fsb-launch-test' < /dev/null 2> /dev/null; rc=$?
	check "... but not where the user may not write (/etc, got $rc)" [ "$rc" != 0 ]
fi
check "... and that does not reach the host" \
	bash -c '[ ! -e "$1/outside.txt" ] && [ ! -e /etc/fsb-launch-test ]' _ "$tmp"
out=$(L -- sh -c 'id -u; id -g; id -G' < /dev/null | tr '\n' ' ')
check "the command runs with the user's uid, gid and groups (got '$out')" \
	[ "$out" = "$(id -u) $(id -g) $(id -G) " ]
L -- sh -c "mkdir '$proj/gdir' && echo x > '$proj/gdir/f'" < /dev/null
check "... and what it creates in the project is the user's on the host" \
	[ "$(stat -c %u:%g "$proj/gdir" "$proj/gdir/f" | sort -u)" = "$(id -u):$(id -g)" ]
echo one > "$proj/edit.txt"
L -- cat "$proj/edit.txt" < /dev/null > /dev/null
echo two > "$proj/edit.txt"
out=$(L -- cat "$proj/edit.txt" < /dev/null)
check "a host edit is seen by the next guest command (got '$out')" [ "$out" = two ]
out=$(L -- cat /etc/hostname < /dev/null)
check "the host's root is visible (/etc/hostname)" [ "$out" = "$(cat /etc/hostname)" ]

# ---- several at once, signals ----
L -- sh -c 'sleep 1; echo A' < /dev/null > "$tmp/c1" &
p1=$!
L -- sh -c 'sleep 1; echo B' < /dev/null > "$tmp/c2" &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "two commands at once in one VM" \
	bash -c '[ "$1$2" = 00 ] && [ "$(cat "$3")" = A ] && [ "$(cat "$4")" = B ]' _ "$r1" "$r2" "$tmp/c1" "$tmp/c2"
(L -- yes < /dev/null | sleep 4) &
stalled=$!
sleep 1
out=$(timeout 10 "$LAUNCH" --state "$state" -- echo other < /dev/null)
check "a command whose reader stalls does not stall another (flow control)" [ "$out" = other ]
wait $stalled
head -c 8388608 /dev/urandom > "$tmp/rand8"
L -- cat < "$tmp/rand8" > "$tmp/rand8.out"
check "8 MiB through cat (more than every window and buffer), byte-exact" cmp -s "$tmp/rand8" "$tmp/rand8.out"
# launch starts with SIGINT and SIGQUIT at their defaults whatever this
# suite inherited (a background job of a script, or a CI harness, runs
# with them ignored, and launch, like any program, leaves an ignored
# signal be); job control on, so that the job has a process group.
# "ready" comes from the very process the signal must end, once it runs:
# not from `sh -c 'echo ready; exec sleep 30'`, whose sh (dash) catches
# SIGINT under -c and loses one that lands while it is still searching
# PATH for sleep -- over virtiofs, under load, long after "ready" -- so
# the command then sleeps its 30 s and exits 0 (dash does so on the host
# too: a SIGINT during a slow `exec` is lost).
interrupt() {
	local sig=$1
	set -m
	perl -e '$SIG{INT} = $SIG{QUIT} = "DEFAULT"; exec @ARGV or die "exec: $!"' \
		"$LAUNCH" --state "$state" --accel tcg -- \
		perl -e '$| = 1; print "ready\n"; sleep 30' < /dev/null > "$tmp/sig" &
	p=$!
	set +m
	for _ in $(seq 600); do grep -q ready "$tmp/sig" && break; sleep 0.1; done
	kill -"$sig" -- -$p   # the job's process group, as Ctrl-C does
	wait $p
}
interrupt INT; rc=$?
check "SIGINT to launch interrupts the guest command (130, got $rc)" [ "$rc" = 130 ]
interrupt TERM; rc=$?
check "SIGTERM to launch reaches the guest command (143, got $rc)" [ "$rc" = 143 ]

# ---- a pseudo-terminal (script(1) gives launch a terminal) ----
if command -v script > /dev/null 2>&1; then
	S="$LAUNCH --state $state"
	out=$(script -qec "stty cols 100 rows 30; $S -- sh -c 'tty; stty size'" /dev/null < /dev/null | tr -d '\r')
	# (script passes a NUL of its own to the terminal at times, on its
	# stdin's EOF: the guest terminal echoes it as ^@; match lines' ends)
	check "on a terminal, the command gets a pseudo-terminal (got $(echo $out | tr -cd '[:print:]'))" \
		grep -q '/dev/pts/[0-9]*$' <<< "$out"
	check "... of the terminal's size" grep -q '30 100$' <<< "$out"
	out=$(script -qec "stty cols 100 rows 30; $S -- sh -c 'sleep 3; stty size' < /dev/tty &
		sleep 1.5; stty cols 120 rows 40; wait" /dev/null < /dev/null | tr -d '\r')
	check "... that follows a resize (SIGWINCH) (got '$(echo $out | tr -cd '[:print:]')')" \
		grep -q '40 120$' <<< "$out"
	out=$( (sleep 2; printf '\003'; sleep 1) |
		script -qec "$S -- sh -c 'echo ready; exec sleep 20'; echo rc=\$?" /dev/null | tr -d '\r')
	check "... and Ctrl-C typed there interrupts the guest command (rc=130)" grep -q 'rc=130' <<< "$out"
	out=$(script -qec "$S -T -- sh -c '[ -t 0 ] || echo pipes'" /dev/null < /dev/null | tr -d '\r')
	check "-T: pipes even on a terminal" grep -q 'pipes$' <<< "$out"
else
	echo "# script(1) not installed: no pseudo-terminal tests"
fi

# ---- the state dir, status, a crash, halt ----
check "the state dir has cpu, mem, log, console, pid" \
	bash -c 'for f in cpu mem log console pid ctl.sock; do [ -e "$1/$f" ] || exit 1; done' _ "$state"
L status > "$tmp/status"; rc=$?
check "status: running (exit $rc)" bash -c '[ "$1" = 0 ] && grep -q running "$2"' _ "$rc" "$tmp/status"
check "logs and console show the VM's" \
	bash -c '"$1" --state "$2" logs | grep -q "guest ready" && "$1" --state "$2" console | grep -q "fsbridge-agent"' \
	_ "$LAUNCH" "$state"
kill -9 "$(cat "$state/pid")"
sleep 0.5
L status > /dev/null; rc=$?
check "a killed supervisor: status says not running (3, got $rc)" [ "$rc" = 3 ]
check "... and its stale sockets are gone" [ ! -e "$state/ctl.sock" ]
out=$(L -- echo fresh < /dev/null)
check "the next launch boots a fresh VM (got '$out')" [ "$out" = fresh ]
(cd "$tmp" && L -- true < /dev/null 2> "$tmp/err"); rc=$?
check "a directory outside the VM's project is refused (125, got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "outside the running VM.s project" "$2"' _ "$rc" "$tmp/err"
if [ "$(id -u)" = 0 ]; then
	L -- sh -c 'echo going; sleep 1; echo b > /proc/sysrq-trigger; sleep 20' < /dev/null > "$tmp/o" 2> "$tmp/err"; rc=$?
else
	# (only the guest's root may reset it: an ordinary user's QEMU dies instead)
	L -- sh -c 'echo going; sleep 20' < /dev/null > "$tmp/o" 2> "$tmp/err" &
	p=$!
	for _ in $(seq 100); do grep -q going "$tmp/o" && break; sleep 0.1; done
	kill -KILL "$(pgrep -f -- "$state/agent.sock" | head -1)"
	wait $p; rc=$?
fi
check "a guest that dies mid-command: 125 and one clear line (got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "^launch: lost the VM" "$2" && grep -q going "$3"' _ "$rc" "$tmp/err" "$tmp/o"
sed 's/^/# stderr: /' "$tmp/err"
sleep 0.5
L -- echo a < /dev/null > "$tmp/c1" 2> "$tmp/e1" &
p1=$!
L -- echo b < /dev/null > "$tmp/c2" 2> "$tmp/e2" &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
bash -c '[ "$1$2" = 00 ] && [ "$(cat "$3")" = a ] && [ "$(cat "$4")" = b ] &&
	[ "$(grep -c "starting QEMU" "$5")" = 3 ]' _ "$r1" "$r2" "$tmp/c1" "$tmp/c2" "$state/log"; both=$?
check "then two launches at once start one fresh VM and both run (got $r1 $r2)" [ "$both" = 0 ]
[ "$both" = 0 ] || { sed 's/^/# stderr 1: /' "$tmp/e1"; sed 's/^/# stderr 2: /' "$tmp/e2"
	grep -v '^fsbridge:' "$state/log" | tail -25 | sed 's/^/# log: /'; }
qemu_pid=$(pgrep -f -- "$state/agent.sock" | head -1)
L -q halt; rc=$?
check "halt exits 0 (got $rc)" [ "$rc" = 0 ]
L status > /dev/null; rc=$?
check "after halt: not running (3, got $rc)" [ "$rc" = 3 ]
check "... QEMU is gone" bash -c '[ -z "$1" ] || ! kill -0 "$1" 2>/dev/null' _ "$qemu_pid"
check "... no sockets are left" bash -c '! ls "$1"/*.sock 2>/dev/null | grep -q .' _ "$state"

# ---- errors: one line, non-zero ----
"$LAUNCH" --state "$tmp/state2" --qemu /nonexistent -- true < /dev/null > "$tmp/err.out" 2> "$tmp/err"; rc=$?
check "--qemu /nonexistent: exit 125 (got $rc)" [ "$rc" = 125 ]
check "... one line naming it" bash -c '[ "$(wc -l < "$1")" = 1 ] && grep -q "launch: QEMU not found: /nonexistent" "$1" && [ ! -s "$2" ]' _ "$tmp/err" "$tmp/err.out"
"$LAUNCH" --state "$tmp/state2" --kernel /nonexistent -- true < /dev/null 2> "$tmp/err"; rc=$?
check "--kernel /nonexistent: exit 125, one line (got $rc)" \
	bash -c '[ "$1" = 125 ] && [ "$(wc -l < "$2")" = 1 ] && grep -q "no guest kernel: /nonexistent" "$2"' _ "$rc" "$tmp/err"
# a "kernel" that is not one: the image builds, QEMU refuses it
mkdir -p "$tmp/k"
cp /etc/hostname "$tmp/k/vmlinuz-$(basename "$("$B/guest-overlay/fsbridge-mkinitramfs" --print-kernel)" | sed 's/^vmlinuz-//')"
"$LAUNCH" --state "$tmp/state2" --kernel "$tmp/k"/vmlinuz-* -- true < /dev/null 2> "$tmp/err"; rc=$?
check "a VM that does not boot: exit 125, the reason, then the last lines (got $rc)" \
	bash -c '[ "$1" = 125 ] && head -1 "$2" | grep -q "^launch: the VM did not start: QEMU exited" &&
		grep -q "^  log: " "$2"' _ "$rc" "$tmp/err"
check "... and leaves no VM behind" bash -c '! "$1" --state "$2" status > /dev/null' _ "$LAUNCH" "$tmp/state2"
"$LAUNCH" --bogus -- true 2> "$tmp/err"; rc=$?
check "a bad option: exit 2, one line (got $rc)" \
	bash -c '[ "$1" = 2 ] && [ "$(wc -l < "$2")" = 1 ] && grep -q "unknown option .--bogus" "$2"' _ "$rc" "$tmp/err"
"$LAUNCH" --accel warp -- true 2> "$tmp/err"; rc=$?
check "a bad --accel: exit 2, one line (got $rc)" \
	bash -c '[ "$1" = 2 ] && [ "$(wc -l < "$2")" = 1 ]' _ "$rc" "$tmp/err"
"$LAUNCH" --state "$tmp/state2" halt > /dev/null; rc=$?
check "halt with nothing running exits 0 (got $rc)" [ "$rc" = 0 ]

echo "1..$n"
exit 0
