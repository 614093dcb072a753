#!/bin/bash
# fd_bound.sh: the server's open file descriptors stay bounded however
# many files a client looks up and keeps (DESIGN.md invariant 7): with
# -o fd_cache=64, walking and reading a tree of 3,000 files in 300
# directories, the daemon never holds many more than 64 descriptors, and
# everything still reads back right (evicted inodes are re-opened by
# handle or from their parent).  TAP.
set -u
. "$(dirname "$0")/../lib/tap.sh"
# (as root or as an ordinary user, through fusermount3: see *-user.sh)
skip_unless_fuse
tmp=$(mktemp -d /tmp/fsb-fd.XXXXXX)
trap '"$FSBRIDGE" umount "$tmp/mnt" 2>/dev/null || fusermount3 -u -z "$tmp/mnt" 2>/dev/null; rm -rf --one-file-system "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/mnt"
for d in $(seq 300); do
	mkdir -p "$tmp/src/a$d/b"
	for f in $(seq 10); do echo "$d/$f" > "$tmp/src/a$d/b/f$f"; done
done
check "mount with fd_cache=64" "$FSBRIDGE" mount -o "fd_cache=64,pidfile=$tmp/pid" "$tmp/src" "$tmp/mnt"
pid=$(cat "$tmp/pid")
max=0
sample() { local c; c=$(ls /proc/"$pid"/fd | wc -l); [ "$c" -gt "$max" ] && max=$c; }
# the client keeps every inode: a long-lived process holds a dir fd open
exec 9< "$tmp/mnt"
bad=0
for d in $(seq 300); do
	for f in $(seq 10); do
		[ "$(cat "$tmp/mnt/a$d/b/f$f")" = "$d/$f" ] || bad=$((bad + 1))
	done
	[ $((d % 25)) = 0 ] && sample
done
find "$tmp/mnt" -type f | wc -l > "$tmp/count"; sample
check "3,000 files read back right through the bounded cache ($bad wrong)" [ "$bad" = 0 ]
check "find sees all 3,000 files" [ "$(cat "$tmp/count")" = 3000 ]
echo "# most descriptors the server held: $max"
check "the server held at most 64 + 32 descriptors (max $max)" [ "$max" -le 96 ]
# a second pass: evicted inodes are re-opened
bad=0
for d in 1 77 150 299; do [ "$(cat "$tmp/mnt/a$d/b/f3")" = "$d/3" ] || bad=1; done
check "evicted inodes are re-opened on demand" [ "$bad" = 0 ]
mv "$tmp/src/a5" "$tmp/src/moved5"
check "an evicted inode moved on the host is found again under its new name" \
	[ "$(cat "$tmp/mnt/moved5/b/f1" 2>/dev/null)" = "5/1" ]
# listings of directories whose files' descriptors were evicted: their
# attributes are read at the listed name (checked to be the same file),
# and stay the host's after host changes (appends, a file replaced)
for d in 10 20 30; do echo "grown" >> "$tmp/src/a$d/b/f2"; done
echo "replaced" > "$tmp/src/a40/b/new" && mv "$tmp/src/a40/b/new" "$tmp/src/a40/b/f4"
listing() { cd "$1" && stat -c '%n %s %i %h' -- * | sort; }
for _ in $(seq 40); do
	bad=0
	for d in 10 20 30 40 60; do
		[ "$(listing "$tmp/src/a$d/b")" = "$(listing "$tmp/mnt/a$d/b")" ] || bad=$((bad + 1))
	done
	[ "$bad" = 0 ] && break
	sleep 0.05
done
check "ls -l of directories whose files' descriptors were evicted: the host's sizes and inode numbers, after host changes too ($bad differ)" \
	[ "$bad" = 0 ]
sample
check "... with the descriptors still bounded (max $max)" [ "$max" -le 96 ]
exec 9<&-
echo "1..$n"
