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
	local d=$1 i j
	for i in $(seq 1 12); do
		mkdir -p "$d/tree/d$i"
		for j in $(seq 1 15); do
			head -c $(( (i * 131 + j * 409) % 6000 + 1 )) /dev/urandom > "$d/tree/d$i/f$j"
		done
		: > "$d/tree/d$i/empty"
		head -c 102400 /dev/urandom > "$d/tree/d$i/big"
	done
}
SMALL=$((12 * 15))

setup() { rm -rf "${tmp:?}/$1"; mkdir -p "$tmp/$1/src" "$tmp/$1/mnt" "$tmp/$1/out"; chmod 755 "$tmp/$1" "$tmp/$1/mnt"; }

# A foreground mount with debug logging (the requests and the prefill
# counts are read from its log).
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
unmount_logged() {
	check "$2: fsbridge umount" umount_or_report "$1/mnt"
	check "$2: the mount's process ends after its unmount" stop_daemon "$bgpid"
	bgpid=
}
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

# 3. host changes after the prefill, and during it
setup chg
make_tree "$tmp/chg/src"
if mount_logged "$tmp/chg" "prefill=on"; then
	tar -C "$tmp/chg/mnt" -cf - tree | cat > /dev/null
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
	# a host writer replaces files (new inodes: the next listing prefills
	# them again) and rewrites them in place (same size) while a walker
	# lists and reads them again and again; then every file reads as the
	# host's
	(
		k=0
		while :; do
			for i in 4 5 6; do
				for j in 1 2 3 4 5; do
					f=$tmp/chg/src/tree/d$i/f$j
					printf 'replaced %05d\n' "$k" > "$f.new" && mv "$f.new" "$f"
				done
			done
			sleep 0.02
			for i in 4 5 6; do
				for j in 1 2 3 4 5; do
					printf '%05d' "$k" | dd of="$tmp/chg/src/tree/d$i/f$j" conv=notrunc status=none
				done
			done
			sleep 0.02
			k=$((k + 1))
		done
	) &
	writer=$!
	# one walker: a cold directory first (its reads make tar a walker),
	# then the three directories over and over
	mkdir "$tmp/chg/src/tree/w"
	for j in 1 2 3 4 5; do echo "$j" > "$tmp/chg/src/tree/w/f$j"; done
	args=(tree/w)
	for i in $(seq 1 150); do args+=(tree/d4 tree/d5 tree/d6); done
	tar -C "$tmp/chg/mnt" -cf - "${args[@]}" 2>/dev/null | cat > /dev/null
	kill "$writer"; wait "$writer" 2>/dev/null; writer=
	bad=
	for i in $(seq 1 40); do
		bad=
		for d in 4 5 6; do
			for j in 1 2 3 4 5; do
				cmp -s "$tmp/chg/src/tree/d$d/f$j" "$tmp/chg/mnt/tree/d$d/f$j" || bad="$bad d$d/f$j"
			done
		done
		[ -z "$bad" ] && break
		sleep 0.05
	done
	report "$([ -z "$bad" ] && echo 1)" "after host writes raced with prefills, every file reads as the host's" \
		"stale:$bad"
	# a write through the mount to a prefilled file
	tar -C "$tmp/chg/mnt" -cf - tree/d7 | cat > /dev/null
	echo "through the mount" >> "$tmp/chg/mnt/tree/d7/f7"
	check "a write through the mount to a prefilled file reads back whole, here and on the host" \
		sh -c 'cmp -s "$1" "$2" && tail -c 18 "$1" | grep -q "through the mount"' sh \
		"$tmp/chg/mnt/tree/d7/f7" "$tmp/chg/src/tree/d7/f7"
	# a host change between a prefill's read and its store (the server
	# made to wait 300 ms there): the store must not leave the old bytes
	# (the pages go again: the file changed since it was listed)
	mkdir "$tmp/chg/src/tree/x" "$tmp/chg/src/tree/y"
	for j in 1 2 3; do echo "cold $j" > "$tmp/chg/src/tree/x/f$j"; done
	echo "before the change" > "$tmp/chg/src/tree/y/victim"
	unmount_logged "$tmp/chg" "[changes]"
	s_race=$(stored "$tmp/chg")
	if FSBRIDGE_TEST_PREFILL_DELAY_MS=300 mount_logged "$tmp/chg" "prefill=on"; then
		# tar reads x (a walker then) and lists y, but leaves the
		# victim to the prefill
		tar -C "$tmp/chg/mnt" --exclude=victim -cf - tree/x tree/y | cat > /dev/null
		sleep 0.1
		echo "AFTER the change" | dd of="$tmp/chg/src/tree/y/victim" conv=notrunc status=none
		# once the watcher has told the kernel, a stat gives it the new
		# mtime: old bytes stored after that would look current
		sleep 0.1
		stat "$tmp/chg/mnt/tree/y/victim" > /dev/null
		sleep 0.5
		check "a host change between a prefill's read and its store: the file reads as changed" \
			cmp -s "$tmp/chg/src/tree/y/victim" "$tmp/chg/mnt/tree/y/victim"
	else
		not_ok "[changes] mount again"
	fi
	unmount_logged "$tmp/chg" "[changes, delayed stores]"
	report "$(grep -q 'prefill: 0 files stored, 1 dropped again' "$tmp/chg/log" && echo 1)" \
		"[changes, delayed stores] the victim was stored, then dropped again" "$(grep 'prefill:' "$tmp/chg/log")"
	s=${s_race:-0}
	report "$([ "$s" -ge $((SMALL * 3 / 4)) ] && echo 1)" "[changes] the walkers' listings were prefilled ($s files stored)" \
		"$(grep 'prefill:' "$tmp/chg/log")"
else
	not_ok "[changes] mount"
fi

# 4. hidden files are neither listed nor stored
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

# 5. a big directory listed by processes that use its entries or not
setup big
mkdir -p "$tmp/big/src/flat"
(cd "$tmp/big/src/flat" && for i in $(seq 1 1500); do echo "$i" > "file-with-a-longish-name-$i"; done &&
	for i in $(seq 1 200); do mkdir "dir-$i"; ln -s "file-with-a-longish-name-$i" "link-$i"; done)
if mount_logged "$tmp/big" "prefill=on"; then
	check "a directory of 1,900 entries lists every name (ls -f)" \
		bash -c 'diff <(ls -f "$1" | sort) <(ls -f "$2" | sort)' sh "$tmp/big/src/flat" "$tmp/big/mnt/flat"
	check "... with each entry's type (find -type f, d, l)" \
		sh -c 'for t in f d l; do [ "$(find "$1" -mindepth 1 -type $t | wc -l)" = "$(find "$2" -mindepth 1 -type $t | wc -l)" ] || exit 1; done' \
		sh "$tmp/big/src/flat" "$tmp/big/mnt/flat"
	check "... and the same names, types and sizes to stat (ls -l)" \
		bash -c 'diff <(cd "$1" && stat -c "%n %F %s" -- * | sort) <(cd "$2" && stat -c "%n %F %s" -- * | sort)' \
		sh "$tmp/big/src/flat" "$tmp/big/mnt/flat"
	unmount_logged "$tmp/big" "[big directory]"
else
	not_ok "[big directory] mount"
fi

# 6. root: another user on an allow_other mount, and an id-mapped share
if [ "$root" = 0 ]; then
	ok "another user reads no prefilled file it may not read # SKIP allow_other for other users needs root here"
	ok "an id-mapped share stores nothing # SKIP uidmap= needs root"
elif ! test_user fsb-other; then
	not_ok "cannot create the user fsb-other"
else
	setup other
	make_tree "$tmp/other/src"
	echo "root-only-bytes" > "$tmp/other/src/tree/d1/private"
	chmod 600 "$tmp/other/src/tree/d1/private"
	chmod -R a+rX "$tmp/other/src/tree"
	chmod 600 "$tmp/other/src/tree/d1/private"
	if mount_logged "$tmp/other" "allow_other"; then
		tar -C "$tmp/other/mnt" -cf - tree | cat > /dev/null
		s=$(grep -c 'prefill: pid' "$tmp/other/log")
		as_user fsb-other cat "$tmp/other/mnt/tree/d1/private" > "$tmp/other/read" 2> "$tmp/other/read.err"
		check "allow_other: another user cannot read a 0600 file root's walker prefilled (EACCES)" \
			sh -c '! grep -q root-only-bytes "$1" && grep -q "Permission denied" "$2"' sh \
			"$tmp/other/read" "$tmp/other/read.err"
		check "allow_other: ... and reads a 0644 one whole" \
			sh -c 'as_user() { setpriv --reuid=fsb-other --regid=fsb-other --init-groups --inh-caps=-all "$@"; }; as_user cat "$1" | cmp -s - "$2"' \
			sh "$tmp/other/mnt/tree/d2/f2" "$tmp/other/src/tree/d2/f2"
		unmount_logged "$tmp/other" "[allow_other]"
		report "$([ "$s" -ge 1 ] && echo 1)" "allow_other: root's tar was taken for a walker (prefill on)"
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
