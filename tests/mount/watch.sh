#!/bin/bash
# watch.sh: host-side changes made directly in SRC are seen through the
# mount (cache=auto), with fanotify and with inotify; a tree with more
# directories than inotify watches still mounts and stays correct within
# the fallback timeout; writes made through the mount do not invalidate
# the writer's own cache.  TAP, plan at the end.
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/umount.sh"

if [ ! -e /dev/fuse ] || [ -z "${FSBRIDGE:-}" ]; then
	echo "1..0 # SKIP needs /dev/fuse and FSBRIDGE"
	exit 0
fi
# As root or as an ordinary user through fusermount3 (watch-user.sh).
# Where the kernel demands root, the user's run checks something else:
#   - fanotify watches a whole file system (FAN_MARK_FILESYSTEM), which
#     needs CAP_SYS_ADMIN: watch=fanotify must fail cleanly (exit 1, one
#     line), watch=auto must fall back to inotify;
root=0
[ "$(id -u)" = 0 ] && root=1
if [ "$root" = 0 ] && ! command -v fusermount3 > /dev/null; then
	echo "1..0 # SKIP not root and no fusermount3 (apt-get install fuse3)"
	exit 0
fi
VIS="${top_builddir:-.}/tests/mount/visibility"

tmp=$(mktemp -d /tmp/fsb-watch.XXXXXX)
# bounded: a mount that will not go is reported (who holds it) and
# detached, and a foreground mount's process is waited for 30 s at most
cleanup() {
	for m in "$tmp"/*/mnt; do
		mountpoint -q "$m" 2>/dev/null || continue
		umount_or_report "$m"
	done
	[ -n "${bgpid:-}" ] && stop_daemon "$bgpid"
	mountpoint -q "$tmp/sub/src/t" 2>/dev/null && umount -l "$tmp/sub/src/t"
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# Pass a TAP stream through, renumbered into ours.
tap_through() {
	local prefix=$1 line
	shift
	while IFS= read -r line; do
		case "$line" in
		"ok "*) ok "$prefix ${line#ok * - }" ;;
		"not ok "*) not_ok "$prefix ${line#not ok * - }" ;;
		"#"*) echo "$line" ;;
		esac
	done < <("$@" 2>&1)
}

setup() { rm -rf "$tmp/$1"; mkdir -p "$tmp/$1/src" "$tmp/$1/mnt"; }

# (mount_logged and unmount_logged: tests/lib/umount.sh)
# the same for a mount in the background
unmount_checked() {
	if umount_or_report "$1"; then
		ok "$2: fsbridge umount"
	else
		not_ok "$2: fsbridge umount"
	fi
}

# 1. each kind of change, 20 rounds (200 changes), per watcher
if [ "$root" = 0 ]; then
	setup user
	"$FSBRIDGE" mount -o watch=fanotify "$tmp/user/src" "$tmp/user/mnt" 2> "$tmp/user/err"
	rc=$?
	check "not root: watch=fanotify is refused (exit $rc, want 1), in one line" \
		test "$rc" = 1 -a "$(wc -l < "$tmp/user/err")" = 1
	check "not root: ... and nothing is mounted" sh -c '! mountpoint -q "$1"' sh "$tmp/user/mnt"
	if "$FSBRIDGE" mount -o watch=auto "$tmp/user/src" "$tmp/user/mnt" 2> "$tmp/user/log"; then
		ok "not root: mount with watch=auto"
		tap_through "[auto]" "$VIS" "$tmp/user/src" "$tmp/user/mnt" 3 2000 write create rm
		unmount_checked "$tmp/user/mnt" "[auto]"
	else
		not_ok "not root: mount with watch=auto"
		sed 's/^/# /' "$tmp/user/log"
	fi
fi
for w in fanotify inotify; do
	[ "$root" = 0 ] && [ "$w" = fanotify ] && continue
	setup "$w"
	if "$FSBRIDGE" mount -o "watch=$w" "$tmp/$w/src" "$tmp/$w/mnt"; then
		ok "mount with watch=$w"
		tap_through "[$w]" "$VIS" "$tmp/$w/src" "$tmp/$w/mnt" 20 2000
		unmount_checked "$tmp/$w/mnt" "[$w]"
	else
		not_ok "mount with watch=$w"
	fi
done

# 2. more directories than inotify watches: mounts, stays correct within
#    the fallback timeout (1 s; the test allows 2 s).  The daemon's 21st
#    watch fails as at the limit (a test hook: fs.inotify.max_user_watches
#    is the machine's, and lowering it would starve the watchers of every
#    suite running beside this one).
setup limit
for i in $(seq 1 60); do mkdir -p "$tmp/limit/src/d$i"; done
if FSBRIDGE_TEST_INOTIFY_WATCHES=20 mount_logged "$tmp/limit" "watch=inotify"; then
	ok "mount with more directories than inotify watches"
	ls -R "$tmp/limit/mnt" > /dev/null
	check "running out of watches is logged once" \
		test "$(grep -c 'out of inotify watches' "$tmp/limit/log")" -eq 1
	tap_through "[unwatched]" "$VIS" "$tmp/limit/src/d60" "$tmp/limit/mnt/d60" 3 2000 \
		write create rm chmod
	unmount_logged "$tmp/limit" "[unwatched]"
else
	not_ok "mount with more directories than inotify watches"
	cat "$tmp/limit/log" | sed 's/^/# /'
fi

# 2b. without a watcher, revalidate= sets how soon changes show: 0.2 s
#     must be seen well before the 1 s default
setup reval
if "$FSBRIDGE" mount -o watch=none,revalidate=0.2 "$tmp/reval/src" "$tmp/reval/mnt"; then
	ok "mount with watch=none,revalidate=0.2"
	tap_through "[revalidate=0.2]" "$VIS" "$tmp/reval/src" "$tmp/reval/mnt" 3 700 write create rm chmod
	unmount_checked "$tmp/reval/mnt" "[revalidate=0.2]"
else
	not_ok "mount with watch=none,revalidate=0.2"
fi
"$FSBRIDGE" mount -o revalidate=soon "$tmp/reval/src" "$tmp/reval/mnt" 2>/dev/null
check "revalidate=soon is refused (exit 2)" test $? = 2

# 2c. a file system mounted below the share's root: fanotify's mark
#     covers the root's file system only, so changes there must show
#     within the fallback timeout (1 s), not be cached as if reported.
#     Root only (mounting a tmpfs).
if [ "$root" = 0 ]; then
	ok "a file system mounted inside the share # SKIP mounting a tmpfs needs root"
else
	setup sub
	mkdir -p "$tmp/sub/src/t"
	if mount -t tmpfs -o size=4m fsb-watch-sub "$tmp/sub/src/t"; then
		if mount_logged "$tmp/sub" "watch=fanotify"; then
			tap_through "[submount]" "$VIS" "$tmp/sub/src/t" "$tmp/sub/mnt/t" 3 2000 \
				write create rm chmod
			unmount_logged "$tmp/sub" "[submount]"
		else
			not_ok "mount with a tmpfs inside the share"
		fi
		umount "$tmp/sub/src/t" || umount -l "$tmp/sub/src/t"
	else
		not_ok "mount a tmpfs inside the share"
	fi
fi

# 3. a write-heavy run through the mount invalidates nothing of its own
for w in fanotify inotify; do
	[ "$root" = 0 ] && [ "$w" = fanotify ] && continue	# (see the top)
	setup "self-$w"
	if mount_logged "$tmp/self-$w" "watch=$w"; then
		mnt="$tmp/self-$w/mnt"
		mkdir "$mnt/out"
		for i in $(seq 1 200); do echo "line $i" > "$mnt/out/f$i"; done
		dd if=/dev/zero of="$mnt/out/big" bs=4k count=2000 status=none
		chmod 600 "$mnt/out/f1"; touch "$mnt/out/f2"; mv "$mnt/out/f3" "$mnt/out/g3"
		rm "$mnt/out/f4"
		sleep 0.3	# let any event arrive
		count=$(grep -c 'notify: inval' "$tmp/self-$w/log")
		case ${FSB_MOUNT_OPTS:-} in
		*passthrough=on*)
			# the kernel writes a passthrough file itself: the watcher
			# cannot tell those writes from a host process's
			if [ "$count" -eq 0 ]; then ok "[$w] passthrough: no self-invalidation"
			else echo "not ok $((n += 1)) - [$w] passthrough: writes the kernel passes through are invalidated as host changes (got $count) # TODO the server does not see them"
			fi ;;
		*)
			what="[$w] 2,000 writes and 205 changes through the mount: no self-invalidation (got $count)"
			if [ "$count" -eq 0 ]; then
				ok "$what"
			elif [ "$w" = inotify ] && [ "$count" -le 2 ]; then
				# inotify does not say who made a change; the server's
				# ctime stamps missed one or two of its own in 2 of about
				# 10 loaded CI runs (as a user), each during dd's
				# sequential 4 KiB WRITEs to one file; cause not found
				# (the last 4 own ctimes are kept per inode).  Erring that
				# way costs a round trip; the other way (taking a host
				# change for ours) would leave the client stale.
				echo "not ok $((n += 1)) - $what # TODO a rare miss of inotify's self-detection under load"
				grep -B8 'notify: inval' "$tmp/self-$w/log" | sed 's/^/#   /'
			else
				not_ok "$what"
				grep -B8 'notify: inval' "$tmp/self-$w/log" | head -n 40 | sed 's/^/#   /'
			fi ;;
		esac
		# the client must hold the file (the kernel may have forgotten
		# it, and then there is nothing to invalidate)
		cat "$mnt/out/f5" > /dev/null
		count=$(grep -c 'notify: inval' "$tmp/self-$w/log")
		echo "host edit" > "$tmp/self-$w/src/out/f5"
		noticed() {
			local i
			for i in $(seq 60); do
				[ "$(grep -c 'notify: inval' "$1")" -gt "$2" ] && return 0
				sleep 0.05
			done
			return 1
		}
		check "[$w] a host edit after them is still noticed" noticed "$tmp/self-$w/log" "$count"
		noticed "$tmp/self-$w/log" "$count" || tail -5 "$tmp/self-$w/log" | sed 's/^/# /'
		unmount_logged "$tmp/self-$w" "[$w] logged mount"
	else
		not_ok "[$w] logged mount"
	fi
done

echo "1..$n"
exit 0
