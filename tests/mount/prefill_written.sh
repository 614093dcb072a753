#!/bin/bash
# prefill_written.sh: small files written through the host mount are
# pushed into the page cache once the kernel holds their new attributes
# (-o prefill=on, the default; fs_prefill.c "Written files"): a file
# smaller than a page that was written and then stat'ed or listed reads
# back without a READ, byte for byte.  What must never happen: a read
# through the mount that gives bytes older than the last write or host
# change, whatever the timing (rewrites right after the stat that queues
# a store; a rewrite, a host change and a truncate while a held store
# waits, through a test hook).  Files of a page or more, and prefill=off,
# store nothing.  TAP, plan at the end; as root, as fsb-user
# (prefill_written-user.sh) and over io_uring (prefill_written-uring.sh).
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/umount.sh"
skip_unless_fuse

tmp=$(mktemp -d /tmp/fsb-written.XXXXXX)
chmod 755 "$tmp"
bgpid=
cleanup() {
	for m in "$tmp"/*/mnt; do
		mountpoint -q "$m" 2>/dev/null && umount_or_report "$m"
	done
	[ -n "$bgpid" ] && stop_daemon "$bgpid"
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

setup() { rm -rf "${tmp:?}/$1"; mkdir -p "$tmp/$1/src" "$tmp/$1/mnt"; chmod 755 "$tmp/$1" "$tmp/$1/mnt"; }
# READ requests in the log of mount DIR after its line LINE
reads_after() { tail -n +"$2" "$1/log" | grep -c 'opcode: READ (15)'; }
lines() { wc -l < "$1/log"; }
# the daemon's closing count: "N written files stored", "M dropped again"
written_stored() { sed -n 's/.*prefill: .* \([0-9]*\) written files stored.*/\1/p' "$1/log" | tail -1; }
dropped() { sed -n 's/.*prefill: [0-9]* files stored, \([0-9]*\) dropped.*/\1/p' "$1/log" | tail -1; }
PAGE=$(getconf PAGESIZE)

# 1. files of 1 byte to a page and more written through the mount, then
#    listed with attributes (ls -l), then read: the small ones without a
#    READ; every file the bytes written
for p in on off; do
	setup "$p"
	if ! mount_logged "$tmp/$p" "prefill=$p"; then
		not_ok "[prefill=$p] mount"
		continue
	fi
	mkdir "$tmp/$p/mnt/w" "$tmp/$p/ref"
	small=0
	for size in 1 7 100 1000 2049 3000 $((PAGE - 1)) $PAGE $((PAGE + 1)) 10000; do
		for k in 1 2 3; do
			head -c "$size" /dev/urandom > "$tmp/$p/ref/f$size.$k"
			cp "$tmp/$p/ref/f$size.$k" "$tmp/$p/mnt/w/f$size.$k"
			[ "$size" -lt "$PAGE" ] && small=$((small + 1))
		done
	done
	ls -l "$tmp/$p/mnt/w" > /dev/null
	sleep 0.3
	from=$(lines "$tmp/$p")
	check "[prefill=$p] files written through the mount read back as written" \
		diff -r "$tmp/$p/ref" "$tmp/$p/mnt/w"
	r=$(reads_after "$tmp/$p" "$from")
	check "[prefill=$p] ... and as the host has them" diff -r "$tmp/$p/ref" "$tmp/$p/src/w"
	unmount_logged "$tmp/$p" "[prefill=$p]"
	s=$(written_stored "$tmp/$p"); s=${s:-0}
	if [ "$p" = on ]; then
		# a page or more: a READ each (9 files, one READ or more)
		report "$([ "$s" = "$small" ] && [ "$r" -le 12 ] && echo 1)" \
			"[prefill=on] the $small files smaller than a page were stored after their listing ($s) and read without a READ ($r READs, for the 9 of a page or more)" \
			"$(grep 'prefill:' "$tmp/$p/log")"
	else
		report "$([ "$s" = 0 ] && [ "$r" -ge 30 ] && echo 1)" \
			"[prefill=off] nothing stored ($s): a READ per file ($r READs for 30 files)"
	fi
done

# 2. a rewrite right after the stat that queues a file's store, at
#    timings around the store's (2 ms after the GETATTR): each file reads
#    back as its last write, never the first
setup race
if mount_logged "$tmp/race" "prefill=on"; then
	m=$tmp/race/mnt
	bad=0
	for i in $(seq 1 150); do
		printf 'first %d\n' "$i" > "$m/r$i"
		stat "$m/r$i" > /dev/null
		case $((i % 5)) in
		0) ;;
		1) sleep 0.001 ;;
		2) sleep 0.002 ;;
		3) sleep 0.003 ;;
		4) sleep 0.005 ;;
		esac
		case $((i % 3)) in
		0) printf 'second %d, longer\n' "$i" > "$m/r$i" ;;
		1) printf 'SECOND %d\n' "$i" | dd of="$m/r$i" conv=notrunc status=none ;;
		2) printf 'appended\n' >> "$m/r$i" ;;
		esac
		stat "$m/r$i" > /dev/null
		sleep 0.003
		want=$(cat "$tmp/race/src/r$i")
		got=$(cat "$m/r$i")
		if [ "$got" != "$want" ]; then
			bad=$((bad + 1))
			[ "$bad" -le 3 ] && echo "# r$i: read '$got', the host has '$want'"
		fi
	done
	report "$([ "$bad" = 0 ] && echo 1)" \
		"150 files rewritten around their store's time read back as their last write ($bad did not)"
	unmount_logged "$tmp/race" "[rewrites]"
	s=$(written_stored "$tmp/race")
	echo "# stores made: ${s:-0} (a rewrite before the store leaves a file unstored)"
else
	not_ok "[rewrites] mount"
fi

# 3. the server made to hold each store 1 s after reading the file (a
#    test hook, which logs when it holds one): a write through the mount,
#    a truncate through it and a host change in that second leave no old
#    bytes or size behind
held() {
	local i
	for i in $(seq 1 500); do
		[ "$(grep -c 'prefill: test hook: node .* held' "$1/log")" -ge "$2" ] && return 0
		sleep 0.02
	done
	return 1
}
setup delay
if FSBRIDGE_TEST_PREFILL_DELAY_MS=1000 mount_logged "$tmp/delay" "prefill=on"; then
	m=$tmp/delay/mnt
	n_held=0
	# name WHAT-TO-DO-WHILE-HELD
	while_held() {
		local f=$1
		printf 'the first bytes of %s\n' "$f" > "$m/$f"
		stat "$m/$f" > /dev/null
		n_held=$((n_held + 1))
		if ! held "$tmp/delay" "$n_held"; then
			not_ok "$2 (the store of $f was never held)"
			return 1
		fi
		case $f in
		write) printf 'REWRITTEN' | dd of="$m/$f" conv=notrunc status=none ;;
		append) printf 'and more\n' >> "$m/$f" ;;
		truncate) truncate -s 5 "$m/$f" ;;
		host) printf 'the host wrote these bytes, more of them\n' > "$tmp/delay/src/$f" ;;
		esac
		sleep 1.3
		stat "$m/$f" > /dev/null
		check "$2" cmp "$tmp/delay/src/$f" "$m/$f"
	}
	while_held write "a write through the mount while a written file's store waits: it reads back"
	while_held append "an append through the mount while the store waits: it reads back"
	while_held truncate "a truncate through the mount while the store waits: size and bytes are the host's"
	while_held host "a host change while the store waits: the file reads as changed"
	unmount_logged "$tmp/delay" "[held stores]"
	d=$(dropped "$tmp/delay")
	report "$([ "${d:-0}" -ge 3 ] && echo 1)" \
		"[held stores] the stores that lost a race were dropped again (${d:-0}; the host change may be seen before the store)" \
		"$(grep 'prefill:' "$tmp/delay/log")"
else
	not_ok "[held stores] mount"
fi

echo "1..$n"
