# umount.sh: sourced by the mount suites: who holds a mount that will not
# unmount (mount_holders), and unmounting that cannot hang a suite
# (umount_or_report, stop_daemon), and a debug mount in the foreground
# whose unmount is a test point (mount_logged, unmount_logged).  Needs
# $FSBRIDGE.
#
#   mount_holders MNT       '#' lines: MNT in /proc/self/mountinfo, every
#                           process with its cwd, root, an open file or a
#                           mapping under MNT, processes whose own mount
#                           namespace has MNT, and the FUSE requests in
#                           flight on its connection (fusectl, if mounted)
#   umount_or_report MNT    fsbridge umount MNT (at most 30 s); on failure
#                           its words and mount_holders as '#' lines, then
#                           MNT is detached (umount -l) so the suite can
#                           go on; returns fsbridge umount's failure
#   stop_daemon PID [S]     waits at most S seconds (default 30) for a
#                           foreground mount's process to exit, then says
#                           so and ends it (TERM, then KILL); 1 if it had
#                           to
umount_holders_of() {
	local mnt=$1 p l ns self
	# one find over /proc: fast enough to catch a holder that is quick
	find /proc/[0-9]*/cwd /proc/[0-9]*/root /proc/[0-9]*/fd /proc/[0-9]*/map_files \
		-maxdepth 1 \( -lname "$mnt" -o -lname "$mnt/*" \) -printf '%p -> %l\n' 2>/dev/null |
	while IFS= read -r l; do
		p=${l#/proc/}
		p=${p%%/*}
		echo "$l ($(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | head -c 160))"
	done
	self=$(readlink /proc/self/ns/mnt)
	for p in /proc/[0-9]*; do
		ns=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
		[ "$ns" != "$self" ] && grep -qF " $mnt " "$p/mountinfo" 2>/dev/null &&
			echo "$p ($(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | head -c 160)) has it in its own mount namespace"
	done
}

mount_holders() {
	local mnt=$1 c
	{
		echo "who holds $mnt:"
		grep -F " $mnt " /proc/self/mountinfo | sed 's/^/mountinfo: /'
		umount_holders_of "$mnt"
		# the connection is named by the mount's device minor
		c=$(awk -v m="$mnt" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo)
		[ -n "$c" ] && [ -r "/sys/fs/fuse/connections/$c/waiting" ] &&
			echo "FUSE requests in flight: $(cat "/sys/fs/fuse/connections/$c/waiting")"
	} 2>&1 | sed 's/^/#   /'
}

umount_or_report() {
	local mnt=$1 out rc
	out=$(timeout -k 5 30 "$FSBRIDGE" umount "$mnt" 2>&1)
	rc=$?
	[ "$rc" = 0 ] && return 0
	echo "# fsbridge umount $mnt: exit $rc: $out"
	mount_holders "$mnt"
	umount -l "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null
	return "$rc"
}

# daemon_ended PID S: true once PID has ended (gone or a zombie), within
# S seconds at most.
daemon_ended() {
	local pid=$1 s=$2 i
	for ((i = 0; i < s * 10; i++)); do
		case $(ps -o stat= -p "$pid" 2>/dev/null) in
		"" | Z*) return 0 ;;
		esac
		sleep 0.1
	done
	return 1
}

stop_daemon() {
	local pid=$1 s=${2:-30}
	if daemon_ended "$pid" "$s"; then
		wait "$pid" 2>/dev/null
		return 0
	fi
	echo "# mount process $pid still running $s s after its unmount: ending it"
	kill -TERM "$pid" 2>/dev/null
	sleep 2
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}

# mount_logged DIR OPTS: DIR/src mounted on DIR/mnt in the foreground
# with debug logging to DIR/log (to count requests and notifications),
# its pid in $bgpid; fails if the mount is not there within 5 s.
mount_logged() {
	local dir=$1 opts=$2 i
	"$FSBRIDGE" mount -f -o "debug,$opts" "$dir/src" "$dir/mnt" 2> "$dir/log" &
	bgpid=$!
	for i in $(seq 1 100); do
		mountpoint -q "$dir/mnt" && return 0
		sleep 0.05
	done
	return 1
}

# unmount_logged DIR LABEL: two test points (tap.sh): the mount goes once
# nothing uses it, and its process then ends (both bounded, never a hang).
unmount_logged() {
	if umount_or_report "$1/mnt"; then
		ok "$2: fsbridge umount"
	else
		not_ok "$2: fsbridge umount"
	fi
	check "$2: the mount's process ends after its unmount" stop_daemon "$bgpid"
	bgpid=
}
