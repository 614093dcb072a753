#!/bin/bash
# prefill.sh: listings and prefilled files through the host mount.  A
# process that reads the files it lists (tar) gets small files' data
# pushed into the page cache after each listing (-o prefill=on, the
# default): the same bytes as the host's, far fewer READ requests than
# files (prefill=off: one at least per file); host changes made after or
# during the prefill are seen; what the policy hides or the kernel's
# permission check refuses stays out of reach (root: another user on an
# allow_other mount; an id-mapped share stores nothing).  A big directory
# listed by a process that does not use the entries (chunks after the
# first without attributes) still lists every name with its type.
# TAP, plan at the end; as root, as fsb-user (prefill-user.sh) and over
# io_uring (prefill-uring.sh).
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/umount.sh"
skip_unless_fuse
command -v tar > /dev/null || skip_all "needs tar"
root=0
[ "$(id -u)" = 0 ] && root=1

tmp=$(mktemp -d /tmp/fsb-prefill.XXXXXX)
chmod 755 "$tmp"
bgpid=
writer=
cleanup() {
	[ -n "$writer" ] && kill "$writer" 2>/dev/null
	for m in "$tmp"/*/mnt; do
		mountpoint -q "$m" 2>/dev/null && umount_or_report "$m"
	done
	[ -n "$bgpid" ] && stop_daemon "$bgpid"
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

# A tree: 12 directories of 15 small files (1 byte to 6 KiB), one empty
# file and one of 100 KiB each.
make_tree() {
	local d=$1 i j size
	for i in $(seq 1 12); do
		mkdir -p "$d/tree/d$i"
		for j in $(seq 1 15); do
			size=$(( i * 131 + j * 409 ))
			head -c $(( size % 6000 + 1 )) /dev/urandom > "$d/tree/d$i/f$j"
		done
		: > "$d/tree/d$i/empty"
		head -c 102400 /dev/urandom > "$d/tree/d$i/big"
	done
}
SMALL=$((12 * 15))

setup() { rm -rf "${tmp:?}/$1"; mkdir -p "$tmp/$1/src" "$tmp/$1/mnt" "$tmp/$1/out"; chmod 755 "$tmp/$1" "$tmp/$1/mnt"; }

reads() { grep -c 'opcode: READ (15)' "$1/log"; }
stored() { sed -n 's/.*prefill: \([0-9]*\) files stored.*/\1/p' "$1/log" | tail -1; }

# 1. a bad value
"$FSBRIDGE" mount -o prefill=maybe "$tmp" "$tmp" 2> "$tmp/err"
rc=$?
check "-o prefill=maybe: exit 2 (got $rc) and a message naming prefill" \
	sh -c 'test "$1" = 2 && grep -q "prefill is on or off" "$2"' sh "$rc" "$tmp/err"

# 2. tar through a fresh mount, prefill on and off
for p in on off; do
	setup "$p"
	make_tree "$tmp/$p/src"
	if ! mount_logged "$tmp/$p" "prefill=$p"; then
		not_ok "[prefill=$p] mount"
		continue
	fi
	tar -C "$tmp/$p/mnt" -cf - tree | tar -C "$tmp/$p/out" -xf - 2> "$tmp/$p/tar.err"
	check "[prefill=$p] tar through the mount gives the host's tree, byte for byte" \
		diff -r "$tmp/$p/src/tree" "$tmp/$p/out/tree"
	unmount_logged "$tmp/$p" "[prefill=$p]"
	r=$(reads "$tmp/$p"); s=$(stored "$tmp/$p"); s=${s:-0}
	if [ "$p" = on ]; then
		report "$([ "$s" -ge $((SMALL / 2)) ] && [ "$r" -le $((SMALL * 2 / 3)) ] && echo 1)" \
			"[prefill=on] most small files were stored ($s of $SMALL) and read without a READ ($r READs)" \
			"$(grep 'prefill:' "$tmp/$p/log")"
	else
		report "$([ "$s" = 0 ] && [ "$r" -ge "$SMALL" ] && echo 1)" \
			"[prefill=off] nothing stored ($s): a READ per file at least ($r READs for $SMALL small files)"
	fi
done

# A cold directory for a walker to read first: tar's reads of it make it
# a walker, so that every directory it lists next is prefilled.
make_warmup() {
	mkdir -p "$1/a0"
	for j in 1 2 3 4 5; do echo "warm-up $j" > "$1/a0/f$j"; done
}
walker_seen() { grep -q 'reads the files it lists' "$1/log"; }

# 3. host changes after the prefill
setup chg
make_tree "$tmp/chg/src"
make_warmup "$tmp/chg/src"
if mount_logged "$tmp/chg" "prefill=on"; then
	tar -C "$tmp/chg/mnt" -cf - a0 tree | cat > /dev/null
	# same size, new bytes; longer; shorter
	head -c "$(stat -c %s "$tmp/chg/src/tree/d1/f1")" /dev/zero | tr '\0' x |
		dd of="$tmp/chg/src/tree/d1/f1" conv=notrunc status=none
	echo appended >> "$tmp/chg/src/tree/d2/f2"
	head -c 10 /dev/urandom > "$tmp/chg/src/tree/d3/f3"
	ok_all=1
	for f in d1/f1 d2/f2 d3/f3; do
		for i in $(seq 1 40); do
			cmp -s "$tmp/chg/src/tree/$f" "$tmp/chg/mnt/tree/$f" && break
			sleep 0.05
		done
		cmp -s "$tmp/chg/src/tree/$f" "$tmp/chg/mnt/tree/$f" || ok_all=0
	done
	report "$ok_all" "host changes to prefilled files are read through the mount within 2 s"
	# a write through the mount to a prefilled file
	echo "through the mount" >> "$tmp/chg/mnt/tree/d7/f7"
	check "a write through the mount to a prefilled file reads back whole, here and on the host" \
		sh -c 'cmp -s "$1" "$2" && tail -c 18 "$1" | grep -q "through the mount"' sh \
		"$tmp/chg/mnt/tree/d7/f7" "$tmp/chg/src/tree/d7/f7"
	unmount_logged "$tmp/chg" "[changes]"
	s=$(stored "$tmp/chg"); s=${s:-0}
	report "$([ "$s" -ge $((SMALL / 2)) ] && walker_seen "$tmp/chg" && echo 1)" \
		"[changes] tar was a walker and the tree was prefilled ($s of $SMALL files stored)" \
		"$(grep 'prefill:' "$tmp/chg/log")"
else
	not_ok "[changes] mount"
fi

# 4. a host writer replaces files (new inodes: the next listing
#    prefills them again) and rewrites them in place (same size) while
#    one walker lists and reads them again and again; then every file
#    reads as the host's
setup race
make_tree "$tmp/race/src"
make_warmup "$tmp/race/src"
if mount_logged "$tmp/race" "prefill=on"; then
	(
		k=0
		while :; do
			for i in 4 5 6; do
				for j in 1 2 3 4 5; do
					f=$tmp/race/src/tree/d$i/f$j
					printf 'replaced %05d\n' "$k" > "$f.new" && mv "$f.new" "$f"
				done
			done
			sleep 0.02
			for i in 4 5 6; do
				for j in 1 2 3 4 5; do
					printf '%05d' "$k" | dd of="$tmp/race/src/tree/d$i/f$j" conv=notrunc status=none
				done
			done
			sleep 0.02
			k=$((k + 1))
		done
	) &
	writer=$!
	args=(a0)
	for i in $(seq 1 150); do args+=(tree/d4 tree/d5 tree/d6); done
	tar -C "$tmp/race/mnt" -cf - "${args[@]}" 2>/dev/null | cat > /dev/null
	kill "$writer"; wait "$writer" 2>/dev/null; writer=
	bad=
	for i in $(seq 1 40); do
		bad=
		for d in 4 5 6; do
			for j in 1 2 3 4 5; do
				cmp -s "$tmp/race/src/tree/d$d/f$j" "$tmp/race/mnt/tree/d$d/f$j" || bad="$bad d$d/f$j"
			done
		done
		[ -z "$bad" ] && break
		sleep 0.05
	done
	report "$([ -z "$bad" ] && echo 1)" "after host writes raced with prefills, every file reads as the host's" \
		"stale:$bad"
	unmount_logged "$tmp/race" "[race]"
	s=$(stored "$tmp/race"); s=${s:-0}
	report "$([ "$s" -ge 1 ] && echo 1)" "[race] replaced files were prefilled meanwhile ($s stored)" \
		"$(grep 'prefill:' "$tmp/race/log")"
else
	not_ok "[race] mount"
fi

# 5. the server made to wait 1 s between a file's read and its store (a
#    test hook, which logs when it holds a store): a host change in that
#    time, or a write through the mount, must not leave the old bytes in
#    the page cache
setup delay
make_warmup "$tmp/delay/src"
cp -R "$tmp/delay/src/a0" "$tmp/delay/src/a1"
mkdir -p "$tmp/delay/src/y" "$tmp/delay/src/z"
echo "before the change" > "$tmp/delay/src/y/victim"
head -c 8192 /dev/zero | tr '\0' o > "$tmp/delay/src/z/victim"
# until the log of mount DIR shows N held stores (10 s at most)
held() {
	local i
	for i in $(seq 1 500); do
		[ "$(grep -c 'prefill: test hook: node .* held' "$1/log")" -ge "$2" ] && return 0
		sleep 0.02
	done
	return 1
}
if FSBRIDGE_TEST_PREFILL_DELAY_MS=1000 mount_logged "$tmp/delay" "prefill=on"; then
	# tar reads a0 (a walker then) and lists y, but leaves the victim
	# to the prefill (the next tar the same with a1 and z)
	tar -C "$tmp/delay/mnt" --exclude=victim -cf - a0 y | cat > /dev/null
	if held "$tmp/delay" 1; then
		echo "AFTER the change" | dd of="$tmp/delay/src/y/victim" conv=notrunc status=none
		# once the watcher has told the kernel, a stat gives it the new
		# mtime: old bytes stored after that would look current
		sleep 0.1
		stat "$tmp/delay/mnt/y/victim" > /dev/null
		sleep 1.2
		check "a host change between a prefill's read and its store: the file reads as changed" \
			cmp -s "$tmp/delay/src/y/victim" "$tmp/delay/mnt/y/victim"
	else
		not_ok "a host change between a prefill's read and its store (the prefill never held y/victim)"
	fi
	tar -C "$tmp/delay/mnt" --exclude=victim -cf - a1 z | cat > /dev/null
	if held "$tmp/delay" 2; then
		head -c 4096 /dev/zero | tr '\0' W | dd of="$tmp/delay/mnt/z/victim" bs=4096 conv=notrunc status=none
		sleep 1.2
		check "a write through the mount while a store waits: it reads back, here and on the host" \
			sh -c '[ "$(tr -d o < "$1" | wc -c)" = 4096 ] && [ "$(tr -d W < "$1" | wc -c)" = 4096 ] && cmp -s "$1" "$2"' \
			sh "$tmp/delay/mnt/z/victim" "$tmp/delay/src/z/victim"
	else
		not_ok "a write through the mount while a store waits (the prefill never held z/victim)"
	fi
	unmount_logged "$tmp/delay" "[delayed stores]"
	st=$(sed -n 's/.*prefill: \([0-9]*\) files stored, \([0-9]*\) dropped.*/\1 \2/p' "$tmp/delay/log" | tail -1)
	read -r ns nd <<< "${st:-0 0}"
	# a store may also find its node forgotten by then (the kernel may
	# drop an inode the watcher invalidated): nothing to overwrite
	nf=$(sed -n 's/.*prefill: .* \([0-9]*\) not stored (the kernel no longer held them).*/\1/p' "$tmp/delay/log" | tail -1)
	nf=${nf:-0}
	if [ "$ns" = 0 ] && [ $((nd + nf)) = 2 ]; then
		ok "[delayed stores] neither file's store stayed: dropped again ($nd) or its node forgotten ($nf)"
	else
		not_ok "[delayed stores] neither file's store stayed: dropped again or its node forgotten ($ns stored, $nd dropped, $nf forgotten)"
		grep 'prefill:' "$tmp/delay/log" | sed 's/^/#   /'
	fi
else
	not_ok "[delayed stores] mount"
fi

# 5b. a signal ends the daemon while a store waits on a READ nobody will
#     serve any more (after SIGTERM the loop stops taking requests): the
#     daemon must still end (it answers what still comes with EIO)
# a walker's warm-up and a directory y whose one file, victim, the
# prefill is left to store (tar excludes it)
make_victim() {
	make_warmup "$1"
	mkdir -p "$1/y"
	echo "victim" > "$1/y/victim"
}
# what is still mounted on MNT after a test that may not have unmounted
detach_left() {
	grep -q " $1 " /proc/self/mountinfo &&
		{ umount -l "$1" 2>/dev/null || fusermount3 -u -z "$1" 2>/dev/null; }
}
# term_held NAME MS: a mount whose prefill holds y/victim's store MS ms
# (the hook), made to list y by a walker, then SIGTERM to its daemon
# ($bgpid); fails if it does not mount
term_held() {
	setup "$1"
	make_victim "$tmp/$1/src"
	FSBRIDGE_TEST_PREFILL_DELAY_MS=$2 mount_logged "$tmp/$1" "prefill=on" || return 1
	tar -C "$tmp/$1/mnt" --exclude=victim -cf - a0 y | cat > /dev/null
	held "$tmp/$1" 1 || echo "# the prefill never held y/victim: this checks less"
	kill -TERM "$bgpid"
}
if term_held term 2000; then
	(timeout 20 cat "$tmp/term/mnt/y/victim" > /dev/null 2>&1 &)
	ended=0
	daemon_ended "$bgpid" 15 && ended=1
	report "$ended" "SIGTERM while a store waits on a READ nobody serves: the daemon ends within 15 s"
	if [ "$ended" = 0 ]; then	# where its threads wait
		for t in /proc/"$bgpid"/task/*; do
			echo "# thread $(cat "$t/comm" 2>/dev/null) waits in $(cat "$t/wchan" 2>/dev/null)"
			sed 's/^/#   /' "$t/stack" 2>/dev/null | head -12
		done
		tail -n 20 "$tmp/term/log" | sed 's/^/# (log) /'
	fi
	# a daemon stuck in the kernel dies of nothing but an aborted
	# connection: abort it here (fusectl, where there is one), or the
	# suite would hang
	c=$(awk -v m="$tmp/term/mnt" '$5 == m { split($3, d, ":"); print d[2] }' /proc/self/mountinfo | tail -1)
	[ "$ended" = 0 ] && [ -n "$c" ] && [ -w "/sys/fs/fuse/connections/$c/abort" ] &&
		echo 1 > "/sys/fs/fuse/connections/$c/abort"
	stop_daemon "$bgpid" 15
	bgpid=
	detach_left "$tmp/term/mnt"
	grep -E 'prefill|answered EIO' "$tmp/term/log" | sed 's/^/# (log) /'
else
	not_ok "[SIGTERM] mount"
fi

# 5c. a store still held 3 s after SIGTERM (the hook holds it 8 s; in
#     life: a request libfuse read and dropped at its exit holds the
#     page): the server aborts its own connection, ends, and leaves no
#     dead mount behind
if term_held abort 8000; then
	ended=0
	daemon_ended "$bgpid" 20 && ended=1
	report "$ended" "a store held past the stop: the daemon aborts its connection and ends within 20 s" \
		"$(grep -E 'prefill|abort' "$tmp/abort/log" | tail -n 3)"
	check "... the log says the connection was aborted" grep -q 'connection aborted' "$tmp/abort/log"
	check "... and no dead mount is left" sh -c '! grep -q " $1 " /proc/self/mountinfo' sh "$tmp/abort/mnt"
	stop_daemon "$bgpid" 15
	bgpid=
	detach_left "$tmp/abort/mnt"
else
	not_ok "[abort] mount"
fi

# 6. hidden files are neither listed nor stored
setup hide
make_tree "$tmp/hide/src"
echo "hidden-secret-bytes" > "$tmp/hide/src/tree/d1/secret"
if mount_logged "$tmp/hide" "hide=tree/d1/secret"; then
	tar -C "$tmp/hide/mnt" -cf "$tmp/hide/out.tar" tree 2> /dev/null
	check "hide=: a walker's tar holds no hidden bytes" sh -c '! grep -q hidden-secret-bytes "$1"' sh "$tmp/hide/out.tar"
	check "hide=: the hidden file is not there through the mount" \
		sh -c '! cat "$1" 2>/dev/null' sh "$tmp/hide/mnt/tree/d1/secret"
	unmount_logged "$tmp/hide" "[hide]"
else
	not_ok "[hide] mount"
fi

# 7. a big directory listed by processes that use its entries or not
setup big
mkdir -p "$tmp/big/src/flat"
(cd "$tmp/big/src/flat" && for i in $(seq 1 1500); do echo "$i" > "file-with-a-longish-name-$i"; done &&
	for i in $(seq 1 200); do mkdir "dir-$i"; ln -s "file-with-a-longish-name-$i" "link-$i"; done &&
	for i in $(seq 1 100); do ln -s /etc/hostname "out-$i"; done)
if mount_logged "$tmp/big" "prefill=on"; then
	check "a directory of 2,000 entries lists every name (ls -f)" \
		bash -c 'diff <(ls -f "$1" | sort) <(ls -f "$2" | sort)' sh "$tmp/big/src/flat" "$tmp/big/mnt/flat"
	check "... with each entry's type (find -type f, d, l)" \
		sh -c 'for t in f d l; do [ "$(find "$1" -mindepth 1 -type $t | wc -l)" = "$(find "$2" -mindepth 1 -type $t | wc -l)" ] || exit 1; done' \
		sh "$tmp/big/src/flat" "$tmp/big/mnt/flat"
	check "... and the same names, types and sizes to stat (ls -l)" \
		bash -c 'diff <(cd "$1" && stat -c "%n %F %s" -- * | sort) <(cd "$2" && stat -c "%n %F %s" -- * | sort)' \
		sh "$tmp/big/src/flat" "$tmp/big/mnt/flat"
	unmount_logged "$tmp/big" "[big directory]"
	l=$(grep -c 'opcode: LOOKUP' "$tmp/big/log")
	report "$([ "$l" -ge 100 ] && echo 1)" \
		"[big directory] chunks after the first came without entries for ls -f (stat looked up $l names)"
else
	not_ok "[big directory] mount"
fi
# the same under symlinks=deny: a chunk without entries still leaves out
# the links that lead out of the share
if mount_logged "$tmp/big" "prefill=on,symlinks=deny"; then
	check "symlinks=deny: the 1,900 entries are listed (ls -f), the 100 links out of the share are not" \
		bash -c 'diff <(ls -f "$1" | grep -v "^out-" | sort) <(ls -f "$2" | sort)' sh "$tmp/big/src/flat" "$tmp/big/mnt/flat"
	unmount_logged "$tmp/big" "[big directory, symlinks=deny]"
else
	not_ok "[big directory, symlinks=deny] mount"
fi

# 7b. listings of entries the kernel holds: an entry whose attributes it
#     was given and that nothing has touched since comes as a bare name
#     (node id 0); what was read, written or changed on the host comes
#     with fresh attributes.  Names, types, sizes and link counts stay
#     the host's through stats, reads, writes and host changes.
setup held
mkdir -p "$tmp/held/src/h"
for f in a b c d; do echo "$f" > "$tmp/held/src/h/$f"; done
same_listing() {
	diff <(cd "$1" && stat -c "%n %F %s %h" -- * | sort) <(cd "$2" && stat -c "%n %F %s %h" -- * | sort)
}
if mount_logged "$tmp/held" "prefill=on"; then
	H=$tmp/held
	ls -l "$H/mnt/h" > /dev/null
	cat "$H/mnt/h/a" > /dev/null
	echo more >> "$H/mnt/h/b"
	check "held entries: ls -l after a read and a write through the mount gives the host's" \
		same_listing "$H/src/h" "$H/mnt/h"
	ls -l "$H/mnt/h" > /dev/null
	n0=$(grep -c 'opcode: ' "$H/log")
	ls -l "$H/mnt/h" > /dev/null
	n1=$(grep -c 'opcode: ' "$H/log")
	echo "# an unchanged directory listed again with ls -l: $((n1 - n0)) requests"
	echo "host appended" >> "$H/src/h/c"
	ln "$H/src/h/d" "$H/src/h/d2"
	ok_all=0
	for i in $(seq 1 40); do
		same_listing "$H/src/h" "$H/mnt/h" > /dev/null 2>&1 && { ok_all=1; break; }
		sleep 0.05
	done
	report "$ok_all" "held entries: after a host append and a hard link, ls -l gives the host's sizes, names and link counts within 2 s" \
		"$(same_listing "$H/src/h" "$H/mnt/h" 2>&1 | head -n 4)"
	unmount_logged "$H" "[held entries]"
else
	not_ok "[held entries] mount"
fi

# 8. root: another user on an allow_other mount, and an id-mapped share
if [ "$root" = 0 ]; then
	ok "another user reads no prefilled file it may not read # SKIP allow_other for other users needs root here"
	ok "an id-mapped share stores nothing # SKIP uidmap= needs root"
elif ! test_user fsb-other; then
	not_ok "cannot create the user fsb-other"
else
	setup other
	make_tree "$tmp/other/src"
	make_warmup "$tmp/other/src"
	echo "root-only-bytes" > "$tmp/other/src/tree/d1/private"
	chmod -R a+rX "$tmp/other/src"
	chmod 600 "$tmp/other/src/tree/d1/private"
	if mount_logged "$tmp/other" "allow_other"; then
		tar -C "$tmp/other/mnt" -cf - a0 tree | cat > /dev/null
		as_user fsb-other cat "$tmp/other/mnt/tree/d1/private" > "$tmp/other/read" 2> "$tmp/other/read.err"
		check "allow_other: another user cannot read a 0600 file root's walker prefilled (EACCES)" \
			sh -c '! grep -q root-only-bytes "$1" && grep -q "Permission denied" "$2"' sh \
			"$tmp/other/read" "$tmp/other/read.err"
		check "allow_other: ... and reads a 0644 one whole" \
			sh -c 'as_user() { setpriv --reuid=fsb-other --regid=fsb-other --init-groups --inh-caps=-all "$@"; }; as_user cat "$1" | cmp -s - "$2"' \
			sh "$tmp/other/mnt/tree/d2/f2" "$tmp/other/src/tree/d2/f2"
		unmount_logged "$tmp/other" "[allow_other]"
		s=$(stored "$tmp/other"); s=${s:-0}
		report "$([ "$s" -ge $((SMALL / 2)) ] && walker_seen "$tmp/other" && echo 1)" \
			"allow_other: root's tar was a walker and the tree, the 0600 file with it, prefilled ($s stored)"
	else
		not_ok "[allow_other] mount"
	fi
	setup idmap
	make_tree "$tmp/idmap/src"
	if mount_logged "$tmp/idmap" "uidmap=0:0:1,gidmap=0:0:1"; then
		tar -C "$tmp/idmap/mnt" -cf - tree | tar -C "$tmp/idmap/out" -xf -
		check "id-mapped share: tar gives the host's tree" diff -r "$tmp/idmap/src/tree" "$tmp/idmap/out/tree"
		unmount_logged "$tmp/idmap" "[idmap]"
		s=$(stored "$tmp/idmap"); s=${s:-0}
		report "$([ "$s" = 0 ] && echo 1)" "id-mapped share: nothing stored ($s; the server checks each read itself)"
	else
		not_ok "[idmap] mount"
	fi
fi

echo "1..$n"
