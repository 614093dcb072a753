#!/bin/bash
# uring.sh: the host mount's io_uring transport itself (-o io_uring=).
# io_uring=on where the kernel's switch is off fails with one line saying
# how to turn it on, and mounts nothing; auto falls back to /dev/fuse and
# says so in debug output; with the switch on, a mount really serves its
# requests over the rings (debug output counts them; the daemon holds an
# io_uring per CPU queue and a thread each), host changes still reach it
# (notifications go over /dev/fuse), FORGETs after a cache drop leave it
# working, io_uring=off keeps it on /dev/fuse, and both an unmount and a
# SIGTERM end the daemon promptly.  The other suites run over the rings
# as *-uring.sh (with_uring.sh).  TAP; needs root (uring_param.sh).
set -u
here=$(dirname "$0")
. "$here/../lib/tap.sh"
. "$here/uring_param.sh"

why=$(uring_param_why_not)
[ -z "$why" ] || skip_all "$why"
[ -n "${FSBRIDGE:-}" ] || skip_all "FSBRIDGE is not set"
tmp=$(mktemp -d /tmp/fsb-uring.XXXXXX) || exit 1
cleanup() {
	mountpoint -q "$tmp/mnt" && { "$FSBRIDGE" umount "$tmp/mnt" || umount -l "$tmp/mnt"; }
	uring_param_restore
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$tmp/src/d" "$tmp/mnt"
for i in 1 2 3 4 5; do echo "file $i" > "$tmp/src/d/f$i"; done
uring_param_on || skip_all "cannot write $URING_PARAM"
ncpu=$(awk -F- '{ print $NF + 1 }' /sys/devices/system/cpu/possible)

# the switch off: on refuses, auto falls back
refused() {
	"$FSBRIDGE" mount -o io_uring=on "$tmp/src" "$tmp/mnt" 2> "$tmp/err"
	echo $? > "$tmp/rc"
	# (not holding the switch's lock, fd 9, should it outlive this)
	"$FSBRIDGE" mount -f -o debug,io_uring=auto "$tmp/src" "$tmp/mnt" 2> "$tmp/auto.log" 9>&- &
	for _ in $(seq 100); do mountpoint -q "$tmp/mnt" && break; sleep 0.05; done
	cat "$tmp/src/d/f1" > /dev/null
	"$FSBRIDGE" umount "$tmp/mnt"
	wait
}
uring_param_off_during refused
check "io_uring=on with the kernel's switch off fails (exit $(cat "$tmp/rc"))" [ "$(cat "$tmp/rc")" = 1 ]
check "in one line that says how to turn it on" \
	grep -qx "fsbridge: io_uring=on: FUSE over io_uring is off in the kernel (as root: echo 1 > $URING_PARAM)" "$tmp/err"
check "and nothing else" [ "$(wc -l < "$tmp/err")" = 1 ]
check "io_uring=auto falls back to /dev/fuse, and debug output says so" \
	grep -q "transport: /dev/fuse (io_uring: FUSE over io_uring is off" "$tmp/auto.log"

# the switch on: a mount served over the rings
"$FSBRIDGE" mount -f -o debug,io_uring=on,pidfile="$tmp/pid" "$tmp/src" "$tmp/mnt" 2> "$tmp/on.log" &
daemon=$!
for _ in $(seq 100); do mountpoint -q "$tmp/mnt" && break; sleep 0.05; done
check "io_uring=on mounts" mountpoint -q "$tmp/mnt"
check "files read through it" grep -qx "file 3" "$tmp/mnt/d/f3"
check "debug output names the io_uring transport" grep -q "^fsbridge: transport: io_uring" "$tmp/on.log"
rings=$(find "/proc/$daemon/fd" -lname 'anon_inode:\[io_uring\]' | wc -l)
check "the daemon holds one io_uring per CPU queue ($rings for $ncpu)" [ "$rings" = "$ncpu" ]
threads=$(grep -l '^fsb-uring-' /proc/"$daemon"/task/*/comm 2>/dev/null | wc -l)
check "and one thread per queue ($threads)" [ "$threads" = "$ncpu" ]
echo changed > "$tmp/src/d/f2"
sleep 0.3
check "a host change is seen through it (notifications on /dev/fuse)" grep -qx changed "$tmp/mnt/d/f2"
echo 2 > /proc/sys/vm/drop_caches	# FORGETs (on /dev/fuse)
check "after the kernel forgets its inodes the tree still reads" grep -qx "file 5" "$tmp/mnt/d/f5"
check "and a new file can be written" sh -c "echo new > '$tmp/mnt/d/new' && grep -qx new '$tmp/src/d/new'"
check "unmounting ends the daemon promptly" timeout 10 "$FSBRIDGE" umount "$tmp/mnt"
# the kernel tears the rings down asynchronously (every 50 ms until the
# queues' commands are all back): under a loaded CI machine that took
# more than 5 s once, so allow 20 s and say what each thread waits on
for _ in $(seq 400); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$daemon" 2>/dev/null; then
	not_ok "the daemon is gone after the unmount (20 s)"
	for t in /proc/"$daemon"/task/*; do
		echo "#   $(cat "$t/comm" 2>/dev/null): $(cat "$t/wchan" 2>/dev/null) $(cut -d' ' -f3 "$t/stat" 2>/dev/null)"
	done
else
	ok "the daemon is gone after the unmount"
fi
wait "$daemon"
check "it exited cleanly (status $?)" [ "$?" = 0 ]
served=$(sed -n 's/^fsbridge: io_uring: \([0-9]*\) requests served over io_uring$/\1/p' "$tmp/on.log")
check "its requests were served over the rings (${served:-none})" [ "${served:-0}" -gt 0 ]

# SIGTERM while mounted
"$FSBRIDGE" mount -o io_uring=on,pidfile="$tmp/pid" "$tmp/src" "$tmp/mnt"
pid=$(cat "$tmp/pid")
cat "$tmp/mnt/d/f1" > /dev/null
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
check "SIGTERM ends an io_uring mount's daemon promptly" bash -c "! kill -0 $pid 2>/dev/null"
check "and unmounts it" bash -c "! mountpoint -q '$tmp/mnt'"

# io_uring=off with the switch on
"$FSBRIDGE" mount -f -o debug,io_uring=off,pidfile="$tmp/pid" "$tmp/src" "$tmp/mnt" 2> "$tmp/off.log" &
daemon=$!
for _ in $(seq 100); do mountpoint -q "$tmp/mnt" && break; sleep 0.05; done
cat "$tmp/mnt/d/f1" > /dev/null
rings=$(find "/proc/$daemon/fd" -lname 'anon_inode:\[io_uring\]' | wc -l)
check "io_uring=off serves over /dev/fuse (no ring: $rings)" [ "$rings" = 0 ]
"$FSBRIDGE" umount "$tmp/mnt"
wait "$daemon"
check "and debug output says so" grep -q "transport: /dev/fuse (io_uring=off)" "$tmp/off.log"

"$FSBRIDGE" mount -o io_uring=maybe "$tmp/src" "$tmp/mnt" 2> "$tmp/err"
check "io_uring=maybe is a usage error (exit $?)" [ "$?" = 2 ]
echo "1..$n"
