#!/bin/bash
# passthrough.sh: FUSE passthrough on the host mount (-o passthrough=).
# As root: passthrough=on mounts; a file read, written, appended to and
# mapped through it is served by the kernel on the host file (debug
# output shows the OPEN naming a backing file and no READ or WRITE
# reaching the server), over /dev/fuse and over io_uring; host edits
# still show, data and size; a write clears a setuid bit gained while
# passed through; a hidden file, a file the caller may not
# open, a write on a read-only share and a setuid file never get a
# backing file; a second open shares the first one's; off serves reads
# as before.  As a user: passthrough=on is refused in one line naming
# what is missing, auto mounts without it.  The other suites run with
# passthrough as *-passthrough.sh (with_passthrough.sh).  TAP.
set -u
here=$(dirname "$0")
. "$here/../lib/tap.sh"
. "$here/uring_param.sh"
skip_unless_fuse
major=$(uname -r | cut -d. -f1) minor=$(uname -r | cut -d. -f2)
[ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 9 ]; } ||
	skip_all "the kernel has no FUSE passthrough (Linux 6.9+)"
tmp=$(mktemp -d /tmp/fsb-pt.XXXXXX) || exit 1
chmod 755 "$tmp"
bgpid=
cleanup() {
	mountpoint -q "$tmp/mnt" && { "$FSBRIDGE" umount "$tmp/mnt" || umount -l "$tmp/mnt"; }
	[ -n "$bgpid" ] && wait "$bgpid" 2>/dev/null
	[ "$(id -u)" = 0 ] && uring_param_restore
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$tmp/src/secret" "$tmp/mnt"
head -c 8388608 /dev/urandom > "$tmp/src/big"
echo "small" > "$tmp/src/small"
echo "top secret" > "$tmp/src/secret/key"
echo "root only" > "$tmp/src/private"; chmod 600 "$tmp/src/private"
echo "setuid" > "$tmp/src/suid"; chmod 4755 "$tmp/src/suid"
chmod -R a+rX "$tmp/src"; chmod 600 "$tmp/src/private"; chmod 4755 "$tmp/src/suid"

mount_logged() {	# OPTS: mount in the foreground with debug output in $tmp/log
	local i
	"$FSBRIDGE" mount -f -o "debug,$1" "$tmp/src" "$tmp/mnt" 2> "$tmp/log" &
	bgpid=$!
	for i in $(seq 100); do mountpoint -q "$tmp/mnt" && return 0; sleep 0.05; done
	return 1
}
unmount_logged() {
	"$FSBRIDGE" umount "$tmp/mnt"
	wait "$bgpid" 2>/dev/null
	bgpid=
}
# requests with opcode $1 in the debug output
requests() { grep -c "opcode: $1 (" "$tmp/log"; }
backing_of() {	# the node ids given backing files
	sed -n 's/^fsbridge: passthrough: node \([0-9]*\) on backing file.*/\1/p' "$tmp/log"
}

if [ "$(id -u)" != 0 ]; then
	"$FSBRIDGE" mount -o passthrough=on "$tmp/src" "$tmp/mnt" 2> "$tmp/err"
	rc=$?
	check "not root: passthrough=on fails (exit $rc, want 1)" [ "$rc" = 1 ]
	check "in one line saying why and what to do" grep -qx \
		"fsbridge: passthrough=on: passthrough needs CAP_SYS_ADMIN (run as root or use -o passthrough=off)" "$tmp/err"
	check "and nothing else" [ "$(wc -l < "$tmp/err")" = 1 ]
	check "and nothing is mounted" bash -c "! mountpoint -q '$tmp/mnt'"
	if mount_logged passthrough=auto; then
		ok "not root: passthrough=auto mounts"
		check "files read through it" cmp -s "$tmp/src/big" "$tmp/mnt/big"
		unmount_logged
		check "without passthrough, quietly (debug output says why)" \
			grep -q "passthrough: off (passthrough needs CAP_SYS_ADMIN" "$tmp/log"
		check "reads reach the server ($(requests READ))" [ "$(requests READ)" -gt 0 ]
	else
		not_ok "not root: passthrough=auto mounts"
	fi
	echo "1..$n"
	exit 0
fi

# the big file, read, and written anew, over a transport ($1: its options)
data_path() {
	local t=$1 rd wr
	if ! mount_logged "passthrough=on,$2"; then
		not_ok "[$t] passthrough=on mounts"
		return
	fi
	ok "[$t] passthrough=on mounts"
	check "[$t] debug output says passthrough is on" grep -q "^fsbridge: passthrough: on" "$tmp/log"
	check "[$t] an 8 MiB file reads back whole" cmp -s "$tmp/src/big" "$tmp/mnt/big"
	dd if="$tmp/src/big" of="$tmp/mnt/copy" bs=1M status=none conv=fsync
	check "[$t] an 8 MiB file written through it is on the host" cmp -s "$tmp/src/big" "$tmp/src/copy"
	echo "more" >> "$tmp/mnt/small"
	check "[$t] an append lands at the end" [ "$(tail -n 1 "$tmp/src/small")" = more ]
	unmount_logged
	rd=$(requests READ) wr=$(requests WRITE)
	check "[$t] the OPENs named backing files ($(backing_of | wc -l))" [ "$(backing_of | wc -l)" -ge 3 ]
	check "[$t] no READ reached the server ($rd)" [ "$rd" = 0 ]
	check "[$t] no WRITE reached the server ($wr)" [ "$wr" = 0 ]
	echo small > "$tmp/src/small"; rm -f "$tmp/src/copy"
}
data_path "/dev/fuse" io_uring=off
why=$(uring_param_why_not)
if [ -z "$why" ] && uring_param_on; then
	data_path "io_uring" io_uring=on
	check "[io_uring] requests were served over the rings" \
		grep -q "^fsbridge: transport: io_uring" "$tmp/log"
	uring_param_restore
else
	ok "[io_uring] # SKIP ${why:-cannot write $URING_PARAM}"
fi

# consistency and the policy
if mount_logged "passthrough=on,hide=secret,allow_other"; then
	ok "passthrough=on with hide= and allow_other mounts"
	exec 3< "$tmp/mnt/big"
	check "a second open of an open file works" cmp -s "$tmp/src/big" "$tmp/mnt/big"
	exec 3<&-
	nodes=$(backing_of | sort | uniq -c | awk '{ print $1 }' | tr '\n' ' ')
	check "and the two opens shared one backing file (registrations per node: $nodes)" [ "$nodes" = "1 " ]
	cat "$tmp/mnt/small" > /dev/null
	echo "host edit, longer than before" > "$tmp/src/small"
	seen=
	for _ in $(seq 40); do
		[ "$(cat "$tmp/mnt/small")" = "host edit, longer than before" ] && { seen=1; break; }
		sleep 0.05
	done
	check "a host edit is seen through the mount" [ -n "$seen" ]
	check "with its new size" [ "$(stat -c %s "$tmp/mnt/small")" = "$(stat -c %s "$tmp/src/small")" ]
	if command -v python3 > /dev/null; then
		python3 - "$tmp/mnt/small" <<'PY'
import mmap, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    m[0:4] = b"HOST"
    m.flush()
    m.close()
PY
		check "a shared mapping writes the host file" grep -q "^HOST edit" "$tmp/src/small"
	fi
	before=$(backing_of | wc -l) opens=$(requests OPEN)
	check "a hidden file cannot be opened" bash -c "! cat '$tmp/mnt/secret/key' 2>/dev/null"
	test_user fsb-user && check "a file the caller may not read cannot be opened" \
		bash -c "! setpriv --reuid=fsb-user --regid=fsb-user --clear-groups cat '$tmp/mnt/private' 2>/dev/null"
	check "no OPEN of either reached the server ($opens, $(requests OPEN))" [ "$opens" = "$(requests OPEN)" ]
	cat "$tmp/mnt/suid" > /dev/null
	after=$(backing_of | wc -l)
	check "none of them, nor a setuid file, got a backing file ($before, $after)" [ "$before" = "$after" ]
	# a setuid file open the ordinary way, then its bit gone: a second
	# open must be ordinary too (the kernel refuses a mix)
	exec 3< "$tmp/mnt/suid"
	chmod u-s "$tmp/mnt/suid"
	check "an open of a file that has ordinary opens works" grep -qx setuid "$tmp/mnt/suid"
	exec 3<&-
	unmount_logged
else
	not_ok "passthrough=on with hide= and allow_other mounts"
fi
chmod 4755 "$tmp/src/suid"

if mount_logged "passthrough=on,ro"; then
	check "a read-only share refuses a write open" bash -c "! echo x 2>/dev/null >> '$tmp/mnt/small'"
	check "and reads through passthrough" grep -q edit "$tmp/mnt/small"
	unmount_logged
	check "with one backing file, for the read ($(backing_of | wc -l))" [ "$(backing_of | wc -l)" = 1 ]
else
	not_ok "passthrough=on,ro mounts"
fi

# a file that gains setuid while passed through: a write still clears it
# (the backing file's credentials lack CAP_FSETID)
echo data > "$tmp/src/gain"; chmod 755 "$tmp/src/gain"
if "$FSBRIDGE" mount -o passthrough=on,suid "$tmp/src" "$tmp/mnt"; then
	exec 3>> "$tmp/mnt/gain"
	chmod 4755 "$tmp/mnt/gain"
	echo more >&3
	exec 3>&-
	check "a write through a passthrough open clears a setuid bit set meanwhile ($(stat -c %A "$tmp/src/gain"))" \
		[ "$(stat -c %a "$tmp/src/gain")" = 755 ]
	"$FSBRIDGE" umount "$tmp/mnt"
else
	not_ok "passthrough=on,suid mounts"
fi

mount_logged passthrough=auto && cat "$tmp/mnt/big" > /dev/null && unmount_logged
check "passthrough=auto as root passes through" [ "$(backing_of | wc -l)" = 1 ]
mount_logged passthrough=off && cat "$tmp/mnt/big" > /dev/null && unmount_logged
check "passthrough=off: no backing file, reads reach the server ($(requests READ))" \
	[ "$(backing_of | wc -l)" = 0 -a "$(requests READ)" -gt 0 ]
"$FSBRIDGE" mount -o passthrough=maybe "$tmp/src" "$tmp/mnt" 2> /dev/null
check "passthrough=maybe is a usage error (exit $?)" [ "$?" = 2 ]
echo "1..$n"
