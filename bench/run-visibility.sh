#!/bin/bash
# run-visibility.sh: how soon host edits are seen through an fsbridge
# mount while a client keeps reading the tree: 200 changes (10 kinds x 20)
# made directly in SRC, each polled for through MNT, with a reader
# running over 1,000 other files the whole time.  Prints p50/p99 per
# watcher.
#
#   bench/run-visibility.sh [ROUNDS]      (from the build dir, as root)
set -u
ROUNDS=${1:-20}
B=${top_builddir:-$PWD}
FSB=${FSBRIDGE:-$B/fsbridge/fsbridge}
VIS=$B/tests/mount/visibility
[ -x "$VIS" ] || { echo "run-visibility.sh: build $VIS first (make check builds it)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/fsb-visb.XXXXXX)
reader=
trap '[ -n "$reader" ] && kill $reader 2>/dev/null; for m in "$tmp"/*/mnt; do "$FSB" umount "$m" 2>/dev/null; done; rm -rf --one-file-system "$tmp"' EXIT

echo "Host edits while reading: $ROUNDS rounds x 10 kinds of change; $(date -u +%F), $(nproc) cores, $(uname -r)"
echo "Command: bench/run-visibility.sh $ROUNDS"
echo
echo "| watcher | p50 ms | p99 ms | changes |"
echo "| --- | ---: | ---: | ---: |"
for w in fanotify inotify none; do
	mkdir -p "$tmp/$w/src/read" "$tmp/$w/mnt"
	for i in $(seq 1000); do echo "file $i" > "$tmp/$w/src/read/f$i"; done
	"$FSB" mount -o "watch=$w" "$tmp/$w/src" "$tmp/$w/mnt" || continue
	( while :; do cat "$tmp/$w/mnt"/read/* > /dev/null 2>&1; done ) &
	reader=$!
	line=$("$VIS" "$tmp/$w/src" "$tmp/$w/mnt" "$ROUNDS" 3000 | grep '^# all')
	kill $reader; wait $reader 2>/dev/null; reader=
	"$FSB" umount -l "$tmp/$w/mnt"
	echo "$line" | awk -v w="$w" '{ print "| " w " | " $6 " | " $9 " | " $3 " |" }'
done
