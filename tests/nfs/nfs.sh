#!/bin/bash
# tests/nfs/nfs.sh: the NFS backend against a real NFS server on loopback.
#
# Starts NFS-Ganesha (VFS FSAL, NFSv4 only, on 127.0.0.1 and a free high
# port) exporting a temporary directory, then:
#   - runs nfs_backend_test (the backend's operations called directly);
#   - mounts nfs://127.0.0.1/PSEUDO?version=4&nfsport=PORT with
#     "$FSBRIDGE mount" and runs posix_compare between a local REF and it;
#   - checks that changes made directly in the exported directory show
#     through the mount within 2 s (the fallback attribute timeout, 1 s);
#   - restarts the server in the middle of a read loop: reads fail with
#     EIO or succeed, none hangs, and they work again after the restart;
#     then restarts it again and again under readers, a writer and a CPU
#     hog: the mount lives through each, and reads work after each;
#   - checks symlinks are served verbatim, ro refuses writes, and that the
#     CLI's NFS errors are one line with a non-zero exit, nothing mounted;
#   - runs the escape suite (tests/mount/escape.sh) with each of its shares
#     mounted as nfs://127.0.0.1/ESCAPE/src-POLICY from a second export
#     that holds the suite's whole working directory: the links out of a
#     share lead to directories the same server exports, so a backend that
#     followed one (or walked "..") on the server would show them.
# Speaks TAP.  Skips (saying why) only where Ganesha cannot run here.
#
# Environment: FSBRIDGE (the fsbridge binary), top_builddir (where
# tests/mount/posix_compare and tests/nfs/nfs_backend_test are built).
set -u
export LC_ALL=C

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# shellcheck source=tests/nfs/ganesha-lib.sh
. "$(dirname "$0")/ganesha-lib.sh"
ganesha_check

builddir=${top_builddir:-.}
BACKEND_TEST=$builddir/tests/nfs/nfs_backend_test
COMPARE=$builddir/tests/mount/posix_compare
PSEUDO=/fsbtest
ESCAPE_PSEUDO=/fsbescape
ESCAPE_SH=${top_srcdir:-$(dirname "$0")/../..}/tests/mount/escape.sh

T=$(mktemp -d /tmp/fsb-nfs.XXXXXX) || skip_all "mktemp failed"
EXPORT=$T/export
mkdir -p "$EXPORT" "$T/mnt" "$T/ref" "$T/escape"
MOUNTED=

# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
	if [ -n "$MOUNTED" ] && mountpoint -q "$MOUNTED"; then
		timeout 20 "$FSBRIDGE" umount "$MOUNTED" >/dev/null 2>&1 ||
			fusermount3 -u -z "$MOUNTED" >/dev/null 2>&1 || umount -l "$MOUNTED" 2>/dev/null
	fi
	ganesha_stop
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

t=0
failures=0
ok() {
	t=$((t + 1))
	echo "ok $t - $*"
}
not_ok() {
	t=$((t + 1))
	failures=$((failures + 1))
	echo "not ok $t - $*"
}
check() {	# check COND_STATUS DESCRIPTION [DIAG]
	if [ "$1" = 0 ]; then ok "$2"; else not_ok "$2"; [ -n "${3:-}" ] && echo "#   $3"; fi
}
skip() {
	t=$((t + 1))
	echo "ok $t - $1 # SKIP $2"
}

ganesha_setup "$T/ganesha"
URL="nfs://127.0.0.1$PSEUDO?version=4&nfsport=$PORT"
ganesha_export 1 "$EXPORT" "$PSEUDO"
ganesha_export 2 "$T/escape" "$ESCAPE_PSEUDO"
ganesha_first_start

# ---- the backend on its own ----
backend_tests() {
	local line num rest seen=0
	if [ ! -x "$BACKEND_TEST" ]; then
		not_ok "nfs_backend_test is built ($BACKEND_TEST)"
		return
	fi
	while IFS= read -r line; do
		case $line in
		"ok "* | "not ok "*)
			rest=${line#not }
			rest=${rest#ok }
			num=${rest%%[!0-9]*}
			rest=${rest#"$num"}
			rest=${rest# - }
			seen=$((seen + 1))
			if [ "${line#not }" != "$line" ]; then not_ok "[backend] $rest"; else ok "[backend] $rest"; fi
			;;
		"1.."*) ;;
		*) echo "# $line" ;;
		esac
	done < <(timeout -k 5 300 "$BACKEND_TEST" "$URL" "$EXPORT" "$RESTART" 2>&1)
	[ "$seen" -gt 0 ] || not_ok "[backend] nfs_backend_test printed no result"
}

# ---- through fsbridge mount ----
mnt=$T/mnt

nfs_mount() {	# nfs_mount [OPTIONS...]
	timeout 60 "$FSBRIDGE" mount "$@" "$URL" "$mnt" >"$T/mount.log" 2>&1 &&
		mountpoint -q "$mnt" && MOUNTED=$mnt
}

nfs_umount() {
	timeout 30 "$FSBRIDGE" umount "$mnt" >"$T/umount.log" 2>&1 && ! mountpoint -q "$mnt"
	local rc=$?
	[ "$rc" = 0 ] && MOUNTED=
	return $rc
}

# posix_compare runs with --model nfs4.0: where NFSv4.0 has no such
# operation (xattrs, fallocate, SEEK_DATA/SEEK_HOLE, RENAME_EXCHANGE) the
# reference answers what the backend must answer instead, and the point
# passes only if the mount answers exactly that.  Ganesha's VFS FSAL does
# not set a symlink's times: that point fails, and says so.
known_limit() {
	case $1 in
	*"utimensat/futimens with explicit times"*"times l"*)
		echo "Ganesha's VFS FSAL does not set a symlink's times" ;;
	*) return 1 ;;
	esac
}

run_compare() {
	local line num rest seen=0 npoints status=unknown why
	if [ ! -x "$COMPARE" ] || ! npoints=$("$COMPARE" --count); then
		not_ok "[posix] posix_compare is built ($COMPARE)"
		return
	fi
	while IFS= read -r line; do
		case $line in
		"ok "* | "not ok "*)
			rest=${line#not }
			rest=${rest#ok }
			num=${rest%%[!0-9]*}
			rest=${rest#"$num"}
			rest=${rest# - }
			seen=$((seen + 1))
			if [ "${line#not }" = "$line" ]; then
				ok "[posix] $rest"
			elif why=$(known_limit "$rest"); then
				t=$((t + 1))
				echo "not ok $t - [posix] ${rest%% # *} # TODO $why"
				[ "${rest#* # }" != "$rest" ] && echo "#   ${rest#* # }"
			else
				not_ok "[posix] $rest"
			fi
			;;
		"1.."*) ;;
		"#EXIT "*) status=${line#"#EXIT "} ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done < <(timeout -k 10 "${POSIX_COMPARE_TIMEOUT:-1800}" "$COMPARE" --model nfs4.0 "$T/ref" "$mnt" 2>&1
		echo "#EXIT $?")
	while [ "$seen" -lt "$npoints" ]; do
		seen=$((seen + 1))
		not_ok "[posix] posix_compare point $seen did not run (exit status $status)"
	done
}

# Wait up to $1 seconds for a command to succeed.
within() {
	local limit=$1 start
	shift
	start=$(date +%s%N)
	while ! "$@" 2>/dev/null; do
		if [ $(($(date +%s%N) - start)) -gt $((limit * 1000000000)) ]; then
			return 1
		fi
		sleep 0.1
	done
}

host_changes() {
	echo one >"$EXPORT/hostfile"
	check "$(within 2 grep -qx one "$mnt/hostfile"; echo $?)" \
		"[host] a file made in the export shows through the mount within 2 s"
	sleep 0.2
	echo two-longer >"$EXPORT/hostfile"
	check "$(within 2 grep -qx two-longer "$mnt/hostfile"; echo $?)" \
		"[host] a change to its content shows within 2 s"
	rm -f "$EXPORT/hostfile"
	check "$(within 2 test ! -e "$mnt/hostfile"; echo $?)" \
		"[host] its removal shows within 2 s"
	mkdir -p "$EXPORT/hostdir" && touch "$EXPORT/hostdir/x"
	check "$(within 2 test -e "$mnt/hostdir/x"; echo $?)" \
		"[host] a new directory and its entry show within 2 s"
	chmod 0701 "$EXPORT/hostdir"
	check "$(within 2 sh -c "[ \"\$(stat -c %a '$mnt/hostdir')\" = 701 ]"; echo $?)" \
		"[host] a mode change shows within 2 s"
	rm -rf "$EXPORT/hostdir"
}

symlinks() {
	ln -s ../../../../etc/passwd "$EXPORT/out-rel"
	ln -s /etc/shadow "$EXPORT/out-abs"
	check "$([ "$(readlink "$mnt/out-rel")" = ../../../../etc/passwd ]; echo $?)" \
		"[symlink] a relative link made on the server reads back verbatim"
	check "$([ "$(stat -c %F "$mnt/out-abs")" = "symbolic link" ]; echo $?)" \
		"[symlink] an absolute one is served as a link, not followed by the server"
	ln -s target "$mnt/made-here" 2>/dev/null
	check "$([ "$(readlink "$EXPORT/made-here")" = target ]; echo $?)" \
		"[symlink] a link made through the mount lands verbatim in the export"
	rm -f "$EXPORT/out-rel" "$EXPORT/out-abs" "$EXPORT/made-here"
}

# Reads in a loop while the server restarts: each read ends (data or
# EIO) within 30 s, and reads work again within 20 s of the restart.
restart_during_reads() {
	local data=$EXPORT/readloop hung=0 bad=0 good_after=1 start
	head -c 65536 /dev/urandom >"$data"
	cp "$data" "$T/readloop.ref"
	(
		end=$(($(date +%s) + 8))
		while [ "$(date +%s)" -lt "$end" ]; do
			timeout 30 cat "$mnt/readloop" >"$T/readloop.out" 2>"$T/readloop.err"
			rc=$?
			case $rc in
			0) if cmp -s "$T/readloop.out" "$T/readloop.ref"; then echo OK; else echo BAD; fi ;;
			124 | 137) echo HUNG ;;
			*) echo ERR; cat "$T/readloop.err" >>"$T/readloop.errors" ;;
			esac
			echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
		done >"$T/readloop.log"
	) &
	local loop=$!
	sleep 2
	ganesha_restart
	check $? "[restart] Ganesha restarted during the read loop"
	wait "$loop"
	hung=$(grep -c HUNG "$T/readloop.log")
	bad=$(grep -c BAD "$T/readloop.log")
	check "$([ "$hung" = 0 ]; echo $?)" "[restart] no read hung (reads: $(grep -c OK "$T/readloop.log") good, $(grep -c ERR "$T/readloop.log") failed)"
	[ -s "$T/readloop.errors" ] && sort "$T/readloop.errors" | uniq -c | head -n 3 | sed 's/^/#   /' 
	check "$([ "$bad" = 0 ]; echo $?)" "[restart] no read returned wrong data"
	start=$(date +%s)
	for _ in $(seq 40); do
		if timeout 30 cmp -s "$mnt/readloop" "$T/readloop.ref"; then
			good_after=0
			break
		fi
		sleep 0.5
	done
	check "$good_after" "[restart] reads work again after the restart ($(($(date +%s) - start)) s)"
	echo after >"$mnt/after-restart" 2>/dev/null
	check "$([ "$(cat "$EXPORT/after-restart" 2>/dev/null)" = after ]; echo $?)" \
		"[restart] writes work again after the restart"
	rm -f "$data" "$EXPORT/after-restart"
}

# The server restarted again and again while readers and a writer keep
# the mount busy (with the CPU contended, as on a loaded machine): the
# daemon must live through every restart (a call cut off by one once
# left libnfs a callback into a dead stack frame, and the daemon died at
# the reconnection after), and reads must work again after each.
restart_loop() {
	local n=${NFS_RESTARTS:-6} data=$EXPORT/restartloop i failed= busy=() p
	head -c 200000 /dev/urandom >"$data"
	cp "$data" "$T/restartloop.ref"
	rm -f "$T/restartloop.stop"
	for p in 1 2; do
		(
			while [ ! -e "$T/restartloop.stop" ]; do
				timeout 30 cat "$mnt/restartloop" >/dev/null 2>&1
				timeout 30 ls -l "$mnt" >/dev/null 2>&1
				echo "$p" 2>/dev/null >"$mnt/restartloop-w$p"
				echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
			done
		) &
		busy+=($!)
	done
	(while [ ! -e "$T/restartloop.stop" ]; do :; done) &
	busy+=($!)
	for i in $(seq "$n"); do
		sleep "0.$((i % 4 + 1))"
		if ! ganesha_restart; then
			failed="Ganesha did not restart ($i)"
			break
		fi
		if ! within 20 timeout 30 cmp -s "$mnt/restartloop" "$T/restartloop.ref"; then
			failed="after restart $i of $n, reads did not work again within 20 s"
			break
		fi
	done
	touch "$T/restartloop.stop"
	wait "${busy[@]}"
	check "$([ -z "$failed" ] && mountpoint -q "$mnt"; echo $?)" \
		"[restart] $n restarts under reads and writes: the mount lives through each, reads work after each" \
		"${failed:-the mount is gone}"
	rm -f "$data" "$EXPORT"/restartloop-w*
}

cli_errors() {
	local out rc
	out=$(timeout 60 "$FSBRIDGE" mount "nfs://127.0.0.1/no-such-export?version=4&nfsport=$PORT" "$mnt" 2>&1)
	rc=$?
	check "$([ $rc != 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && ! mountpoint -q "$mnt"; echo $?)" \
		"[cli] a missing export: exit $rc, one line, nothing mounted" "$out"
	out=$(timeout 60 "$FSBRIDGE" mount "nfs://127.0.0.1$PSEUDO?version=4&nfsport=1" "$mnt" 2>&1)
	rc=$?
	check "$([ $rc != 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && ! mountpoint -q "$mnt"; echo $?)" \
		"[cli] an unreachable server: exit $rc, one line, nothing mounted" "$out"
	out=$(timeout 60 "$FSBRIDGE" mount "nfs://127.0.0.1$PSEUDO?version=9" "$mnt" 2>&1)
	rc=$?
	check "$([ $rc != 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && ! mountpoint -q "$mnt"; echo $?)" \
		"[cli] a bad URL: exit $rc, one line, nothing mounted" "$out"
}

ro_mount() {
	echo keep >"$EXPORT/ro-file"
	if ! nfs_mount -o ro; then
		not_ok "[ro] fsbridge mount -o ro $URL"
		sed 's/^/#   /' "$T/mount.log"
		return
	fi
	ok "[ro] fsbridge mount -o ro"
	( echo x >"$mnt/ro-file" ) 2>"$T/ro.err"
	check "$(grep -q 'Read-only' "$T/ro.err"; echo $?)" "[ro] a write is refused with EROFS"
	check "$([ "$(cat "$mnt/ro-file")" = keep ]; echo $?)" "[ro] reads work"
	nfs_umount
	check $? "[ro] fsbridge umount"
	rm -f "$EXPORT/ro-file"
}

# The share policy applies to an NFS tree as to a local one.
policy_mount() {
	echo data >"$EXPORT/target"
	ln -s /etc/passwd "$EXPORT/abs-out"
	ln -s ../../../../../etc/passwd "$EXPORT/rel-out"
	ln -s target "$EXPORT/inside"
	if ! nfs_mount -o symlinks=deny; then
		not_ok "[policy] fsbridge mount -o symlinks=deny $URL"
		sed 's/^/#   /' "$T/mount.log"
		return
	fi
	ok "[policy] fsbridge mount -o symlinks=deny"
	check "$(! ls -d "$mnt/abs-out" >/dev/null 2>&1 && ! ls -d "$mnt/rel-out" >/dev/null 2>&1; echo $?)" \
		"[policy] symlinks=deny hides links that lead out of the share"
	check "$([ "$(cat "$mnt/inside" 2>/dev/null)" = data ]; echo $?)" \
		"[policy] symlinks=deny keeps a link that stays inside"
	local listing
	listing=" $(ls -A "$mnt" 2>/dev/null | tr '\n' ' ') "
	check "$([[ $listing == *" inside "* && $listing == *" target "* && $listing != *"-out "* ]]; echo $?)" \
		"[policy] symlinks=deny: a listing (by handle) shows the link inside, not those leading out" "$listing"
	# shellcheck disable=SC2010 # what ls shows is the point
	listing=$(ls -lA "$mnt" 2>&1 | grep -e '-out' -e 'No such')
	check "$([ -z "$listing" ]; echo $?)" "[policy] ... nor does a long listing (ls -l)" "$listing"
	check "$(! ln -s x "$mnt/new-link" 2>/dev/null; echo $?)" \
		"[policy] symlinks=deny refuses to make a link"
	check "$(! mknod "$mnt/null" c 1 3 2>/dev/null && [ ! -e "$EXPORT/null" ]; echo $?)" \
		"[policy] a device node is refused (specials=pipes)"
	check "$(mkfifo "$mnt/fifo" 2>/dev/null && [ -p "$EXPORT/fifo" ]; echo $?)" \
		"[policy] a fifo is made on the server"
	nfs_umount
	check $? "[policy] fsbridge umount"
	rm -f "$EXPORT/target" "$EXPORT/abs-out" "$EXPORT/rel-out" "$EXPORT/inside" "$EXPORT/fifo"
}

mount_tests() {
	if [ -z "${FSBRIDGE:-}" ] || [ ! -x "$FSBRIDGE" ]; then
		skip "fsbridge mount nfs://" "FSBRIDGE not set"
		return
	fi
	if [ ! -c /dev/fuse ]; then
		skip "fsbridge mount nfs://" "no /dev/fuse"
		return
	fi
	if ! nfs_mount; then
		not_ok "fsbridge mount $URL MNT"
		sed 's/^/#   /' "$T/mount.log"
		return
	fi
	ok "fsbridge mount $URL MNT"
	run_compare
	check "$(cmp -s "$T/ref/posix_compare.marker" "$EXPORT/posix_compare.marker"; echo $?)" \
		"[posix] what was written through the mount is in the export"
	host_changes
	symlinks
	restart_during_reads
	restart_loop
	nfs_umount
	check $? "fsbridge umount MNT" "$(head -c 300 "$T/umount.log")"
	ro_mount
	policy_mount
	cli_errors
}

# Relay a TAP stream as our own points, each name prefixed: its TODO and
# SKIP directives kept, a skip_all plan turned into one skipped point.
relay_tap() {	# relay_tap PREFIX < TAP
	local line rest num seen=0
	while IFS= read -r line; do
		case $line in
		"ok "* | "not ok "*)
			rest=${line#not }
			rest=${rest#ok }
			num=${rest%%[!0-9]*}
			rest=${rest#"$num"}
			rest=${rest# - }
			seen=$((seen + 1))
			if [ "${line#not }" = "$line" ]; then
				ok "$1 $rest"
			elif [ "${rest#* # TODO }" != "$rest" ]; then
				t=$((t + 1))
				echo "not ok $t - $1 $rest"
			else
				not_ok "$1 $rest"
			fi
			;;
		"1..0 # SKIP"*) skip "$1 suite" "${line#1..0 # SKIP }"; seen=$((seen + 1)) ;;
		"1.."*) ;;
		"#"*) echo "$line" ;;
		*) echo "# $line" ;;
		esac
	done
	[ "$seen" -gt 0 ] || not_ok "$1 printed no result"
}

# The escape suite, its shares served by Ganesha from $T/escape.
escape_tests() {
	if [ -z "${FSBRIDGE:-}" ] || [ ! -x "$FSBRIDGE" ]; then
		skip "[escape] suite over nfs://" "FSBRIDGE not set"
		return
	fi
	if [ ! -r "$ESCAPE_SH" ]; then
		not_ok "[escape] tests/mount/escape.sh is there ($ESCAPE_SH)"
		return
	fi
	relay_tap "[escape]" < <(ESCAPE_DIR=$T/escape \
		ESCAPE_SOURCE="nfs://127.0.0.1$ESCAPE_PSEUDO/src-@POLICY@?version=4&nfsport=$PORT" \
		timeout -k 10 900 bash "$ESCAPE_SH" 2>&1)
}

# bench/run-nfs.sh sets NFS_BENCH_FILES: the small-file workload through
# fsbridge over NFS, straight through libnfs (bench/nfs_direct, no FUSE),
# through the kernel's NFS client when it can mount here, and through
# fsbridge over the exported directory itself.
nfs_bench() {
	local sf=$top_builddir/bench/smallfile n=$NFS_BENCH_FILES kmnt=$T/kmnt
	local direct=$top_builddir/bench/nfs_direct
	mkdir -p "$EXPORT/bench-nfs" "$EXPORT/bench-direct" "$EXPORT/bench-local" "$T/lmnt" "$kmnt"
	nfs_mount || return
	echo "bench: fsbridge-nfs $("$sf" -n "$n" -d 20 --json "$mnt/bench-nfs" | tr '\n' ' ')"
	nfs_umount
	echo "bench: libnfs-direct $("$direct" -n "$n" -d 20 --json "$URL" /bench-direct | tr '\n' ' ')"
	if timeout 20 mount -t nfs4 -o "port=$PORT,vers=4.0" "127.0.0.1:$PSEUDO" "$kmnt" 2>/dev/null; then
		echo "bench: kernel-nfs $("$sf" -n "$n" -d 20 --json "$kmnt/bench-nfs" | tr '\n' ' ')"
		umount "$kmnt"
	fi
	"$FSBRIDGE" mount "$EXPORT" "$T/lmnt" &&
		echo "bench: fsbridge-local $("$sf" -n "$n" -d 20 --json "$T/lmnt/bench-local" | tr '\n' ' ')"
	"$FSBRIDGE" umount "$T/lmnt"
}

if [ -n "${NFS_BENCH_FILES:-}" ]; then
	nfs_bench
	exit 0
fi
backend_tests
mount_tests
escape_tests
echo "1..$t"
[ "$failures" = 0 ] || echo "# $failures of $t failed"
exit 0
