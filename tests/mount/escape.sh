#!/bin/bash
# tests/mount/escape.sh: the adversarial escape suite, through a real FUSE
# mount made by "$FSBRIDGE mount".  Owns: symlink attacks under each
# symlink policy (deny, opaque, follow), ".." chains, device nodes,
# setuid/setgid copy-in, hard links out, xattr namespaces, read-only
# shares, and the symlink-swap race (escape_race.c).  Speaks TAP.
#
# Technique: the client runs in a private mount namespace in which the
# outside directory OUT is covered by an empty tmpfs.  A link followed by
# the client's own kernel then leads to that empty tmpfs; only a server that
# follows links on the host (outer namespace) can show OUT's real contents.
# Under symlinks=follow the server does follow, which shows the technique
# detects it.
#
# Over another backend (tests/nfs/nfs.sh runs the suite over NFS):
#   ESCAPE_DIR     an existing, empty directory to work in instead of a new
#                  one in /tmp (the caller exports it; it is left in place)
#   ESCAPE_SOURCE  what to mount instead of SRC, with @POLICY@ standing for
#                  the policy's name (deny, opaque, follow, ro), e.g.
#                  nfs://127.0.0.1/esc/src-@POLICY@?version=4: it must serve
#                  SRC.  Over NFS (nfs://), two answers differ, by design,
#                  and are checked as such: user.* xattrs are refused with
#                  EOPNOTSUPP (NFSv4.0 has none), and symlinks=follow
#                  follows a link on the server within the mounted export
#                  only (libnfs): a link leading out of it stays a link,
#                  and OUT is never reached, read, listed or written.
set -u
export LC_ALL=C

. "$(dirname "$0")/../lib/tap.sh"

# As root, or as an ordinary user through fusermount3 (escape-user.sh).
# The user makes the covering namespace inside a user namespace of its
# own (unshare -r: root there, the user to the FUSE server and the host);
# Where the kernel answers an ordinary user before the server, the check's
# name says so (KERNEL_*); what only root can set up is skipped, with the
# reason, in the user's run.
NS=(-m)
ROOT=1
KERNEL_MKNOD=
KERNEL_TRUSTED=
if [ "$(id -u)" != 0 ]; then
	command -v fusermount3 >/dev/null 2>&1 || skip_all "not root and no fusermount3"
	NS=(-r -m)
	ROOT=
	KERNEL_MKNOD=" (not root: the kernel refuses first, devices need CAP_MKNOD)"
	KERNEL_TRUSTED=" (not root: the kernel refuses first, trusted.* needs CAP_SYS_ADMIN)"
fi
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
for tool in unshare timeout setfattr getfattr perl mkfifo mknod find md5sum; do
	command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not found"
done
[ -n "${FSBRIDGE:-}" ] && [ -x "$FSBRIDGE" ] || skip_all "FSBRIDGE not set or not executable"
unshare "${NS[@]}" --propagation private true 2>/dev/null || skip_all "cannot create a mount namespace"

RACE=
for cand in "${top_builddir:-.}/tests/mount/escape_race" "$(dirname "$0")/escape_race"; do
	if [ -x "$cand" ]; then
		RACE=$(realpath "$cand")
		break
	fi
done
ITERATIONS=${ESCAPE_RACE_ITERATIONS:-5000}

if [ -n "${ESCAPE_DIR:-}" ]; then
	T=$(realpath "$ESCAPE_DIR") || skip_all "ESCAPE_DIR $ESCAPE_DIR is missing"
	[ -z "$(ls -A "$T")" ] || skip_all "ESCAPE_DIR $T is not empty"
else
	T=$(mktemp -d /tmp/fsb-escape.XXXXXX) || skip_all "mktemp failed"
	T=$(realpath "$T")
fi
W=$T/scratch		# capture files; not part of the host snapshot
HOSTD=$T/host		# files outside every share
mkdir -p "$W" "$HOSTD"
MOUNTS=()

is_mounted() {
	awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

cleanup() {
	local m left=0
	for m in "${MOUNTS[@]}"; do
		is_mounted "$m" || continue
		timeout -k 2 10 "$FSBRIDGE" umount "$m" >/dev/null 2>&1 ||
			fusermount3 -u -z "$m" >/dev/null 2>&1 ||
			umount -l "$m" >/dev/null 2>&1
	done
	for m in "${MOUNTS[@]}"; do
		if is_mounted "$m"; then
			echo "# cleanup: $m is still mounted; leaving $T in place"
			left=1
		fi
	done
	[ "$left" = 0 ] && [ -z "${ESCAPE_DIR:-}" ] && rm -rf --one-file-system "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Does symlinks=follow reach OUT (outside the share) on this backend?
# Over NFS it cannot: the server-side walk stays within the export.
FOLLOW_OUT=1
OVER_NFS=
case ${ESCAPE_SOURCE:-} in
nfs://*) FOLLOW_OUT= OVER_NFS=1 ;;
esac

# --- TAP ---
# report GOOD NAME [DIAGNOSTIC] is tests/lib/tap.sh's

# --- running client commands in the covering namespace ---
R_RC=0
R_OUT=
R_ERR=
in_ns() {	# in_ns SCRIPT (sh syntax; sees the exported variables)
	timeout -k 5 60 unshare "${NS[@]}" --propagation private sh -c '
		mount -t tmpfs -o size=8m,mode=0755 fsb-cover "$OUTD" || exit 98
		eval "$1"' sh "$1" >"$W/out" 2>"$W/err" </dev/null
	R_RC=$?
	R_OUT=$(cat "$W/out")
	R_ERR=$(cat "$W/err")
}

has_secret() {	# has_secret TEXT: OUT's secret content or its file name
	grep -qF -- "$SECRET" <<<"$1" || grep -qx -- 'secret' <<<"$1"
}

# t NAME EXPECT SCRIPT [HOSTCHECK]
#   EXPECT: ok | any | fail:TEXT (non-zero exit, TEXT in stderr) |
#           nosecret | secret | out=TEXT (exact stdout, exit 0)
#   HOSTCHECK: bash condition evaluated on the host afterwards.
t() {
	local name=$1 expect=$2 script=$3 host=${4:-} good=1 why=
	in_ns "$script"
	case $R_RC in
	98) good=0; why="could not cover $OUTD with a tmpfs" ;;
	124 | 137) good=0; why="timed out" ;;
	esac
	if [ "$good" = 1 ]; then
		case $expect in
		ok) [ "$R_RC" = 0 ] || { good=0; why="exit $R_RC"; } ;;
		any) ;;
		fail:*)
			if [ "$R_RC" = 0 ]; then
				good=0; why="succeeded, expected failure"
			elif ! grep -qF -- "${expect#fail:}" <<<"$R_ERR"; then
				good=0; why="stderr lacks '${expect#fail:}'"
			fi ;;
		nosecret) if has_secret "$R_OUT"; then good=0; why="OUT's secret seen through the mount"; fi ;;
		secret) has_secret "$R_OUT" || { good=0; why="OUT's secret not seen"; } ;;
		out=*)
			if [ "$R_RC" != 0 ] || [ "$R_OUT" != "${expect#out=}" ]; then
				good=0; why="expected stdout '${expect#out=}'"
			fi ;;
		esac
	fi
	if [ -n "$host" ] && ! eval "$host"; then
		good=0; why="${why:+$why; }host check failed: $host"
	fi
	report "$good" "$name" "$why
exit=$R_RC
stdout: $(head -c 300 <<<"$R_OUT")
stderr: $(head -c 300 <<<"$R_ERR")"
}

host() {	# host NAME CONDITION: a check made on the host
	if eval "$2"; then report 1 "$1"; else report 0 "$1" "failed: $2"; fi
}

snapshot() {	# snapshot DIR [PRUNE...]: names, types, modes, sizes, mtimes, link targets, contents
	local dir=$1 p prune=()
	shift
	for p in "$@"; do prune+=(-path "$p" -prune -o); done
	(
		cd "$dir" || exit 1
		find . "${prune[@]}" -printf '%p|%y|%m|%s|%T@|%l\n' | sort
		find . "${prune[@]}" -type f -print0 | sort -z | xargs -0 -r md5sum
	)
}

xattr_get() {	# xattr_get NAME FILE: value on the host, or nothing
	getfattr --only-values -n "$1" "$2" 2>/dev/null
}

SECRET="fsb-escape-SECRET-$$-$RANDOM$RANDOM"
INSIDE="inside content"
export T W HOSTD SECRET RACE ITERATIONS

# Host files outside every share.
printf '#!/bin/sh\necho setuid\n' >"$HOSTD/suid"
chmod 4755 "$HOSTD/suid"
echo plain >"$HOSTD/plain"
printf '%s\n' "$SECRET" >"$T/file"	# where src-*/r/d1/l leads once r/d1 is moved up

make_out() {	# make_out DIR: an outside directory holding the secret
	mkdir -p "$1/sub"
	printf '%s\n' "$SECRET" >"$1/secret"
	printf '%s\n' "$SECRET" >"$1/f"
	echo sub >"$1/sub/x"
}

make_src() {	# make_src SRC OUTNAME: a share prepared with links out and in
	local src=$1 outd=$T/$2
	mkdir -p "$src/dir/sub" "$src/emptydir"
	printf '%s\n' "$INSIDE" >"$src/file"
	ln -s "$outd" "$src/abs"				# absolute, to OUT
	ln -s "$outd/secret" "$src/fileabs"			# absolute, to OUT's file
	ln -s "../../../$2" "$src/dir/sub/climb"		# climbs to $T/OUTNAME
	ln -s "../../../../../../../../../../../..$outd" "$src/dir/deepclimb"
	ln -s dir "$src/in"					# stays inside
	ln -s ../file "$src/dir/up"				# climbs, stays inside
	ln -s chain2 "$src/chain1"				# chain leading out
	ln -s abs "$src/chain2"
	ln -s in/sub "$src/ichain"				# chain staying inside
	mkdir -p "$src/cdir" "$src/r/d1"
	ln -s .. "$src/cdir/c2"					# to the root: inside
	ln -s cdir/c2/.. "$src/c1"				# lexically inside, really out
	ln -s ../../x "$src/cdir/c4"				# out
	ln -s cdir/c4 "$src/c3"					# lexically inside, chains out
	ln -s ../../file "$src/r/d1/l"				# inside until r/d1 moves up
	if [ -n "$ROOT" ]; then	# (both need CAP_SYS_ADMIN on the host)
		setfattr -n trusted.hidden -v t "$src/file"
		setfattr -n security.hidden -v s "$src/file"
	fi
	setfattr -n user.keep -v k "$src/file"
}

for p in deny opaque follow ro; do
	make_out "$T/out-$p"
	make_src "$T/src-$p" "out-$p"
	mkdir -p "$T/mnt-$p"
done
mkdir -p "$T/mnt-denyc"

SNAP_PRUNE=("./src-*" "./mnt-*" ./out-follow ./scratch)
snapshot "$T" "${SNAP_PRUNE[@]}" >"$W/t.before"
for p in deny opaque ro ${OVER_NFS:+follow}; do
	snapshot "$T/out-$p" >"$W/out-$p.before"
done

out_untouched() {	# out_untouched POLICY: its OUT as it was at the start
	snapshot "$T/out-$1" >"$W/out-$1.now" && cmp -s "$W/out-$1.before" "$W/out-$1.now"
}

do_mount() {	# do_mount POLICY OPTIONS
	local p=$1 rc _ src=$SRC
	[ -n "${ESCAPE_SOURCE:-}" ] && src=${ESCAPE_SOURCE//@POLICY@/$p}
	MOUNTS+=("$MNT")
	timeout -k 5 30 "$FSBRIDGE" mount -o "$2" "$src" "$MNT" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	for _ in $(seq 1 50); do
		is_mounted "$MNT" && break
		sleep 0.1
	done
	if [ "$rc" = 0 ] && is_mounted "$MNT"; then
		report 1 "[$p] mount -o $2"
		return 0
	fi
	report 0 "[$p] mount -o $2" "exit $rc; stderr: $(head -c 300 "$W/err")"
	return 1
}

do_umount() {	# do_umount POLICY
	local rc
	timeout -k 5 30 "$FSBRIDGE" umount "$MNT" >"$W/out" 2>"$W/err" </dev/null
	rc=$?
	if [ "$rc" = 0 ] && ! is_mounted "$MNT"; then
		report 1 "[$1] umount"
	else
		report 0 "[$1] umount" "exit $rc; stderr: $(head -c 300 "$W/err")"
	fi
}

# --- the race: run escape_race in the covering namespace ---
race_field() {	# race_field KEY: a number from escape_race's summary line
	sed -n "s/.*[ :]$1=\\([0-9]*\\).*/\\1/p" <<<"$R_OUT" | head -n 1
}

race() {	# race POLICY
	local p=$1 ok rf lf rok sw
	if [ -z "$RACE" ]; then
		report 0 "[$p] race: escape_race program found" "build tests/mount/escape_race"
		return
	fi
	in_ns '"$RACE" "$SRC" "$MNT" "$OUTD" "$ITERATIONS" 40'
	rf=$(race_field reads_foreign)
	lf=$(race_field lists_foreign)
	rok=$(race_field reads_ok)
	sw=$(race_field swaps)
	echo "# [$p] $R_OUT"
	if [ -z "$rf" ] || [ "$R_RC" = 2 ] || [ "$R_RC" -ge 98 ]; then
		report 0 "[$p] race: escape_race ran" "exit $R_RC; stderr: $(head -c 300 <<<"$R_ERR")"
		return
	fi
	if [ "$p" = follow ] && [ -n "$FOLLOW_OUT" ]; then
		ok=0
		{ [ "$rf" -gt 0 ] || [ "$lf" -gt 0 ] || [ -e "$OUTD/new" ]; } && ok=1
		report "$ok" "[$p] race control: server-side following is seen ($ITERATIONS iterations)" \
			"reads_foreign=$rf lists_foreign=$lf, no $OUTD/new"
		return
	fi
	ok=0
	[ "$R_RC" = 0 ] && [ "$rf" = 0 ] && [ "$lf" = 0 ] && ok=1
	report "$ok" "[$p] race: no read or listing of MNT/d reached OUT while SRC/d was swapped ($ITERATIONS iterations, $sw swaps)" \
		"exit=$R_RC reads_foreign=$rf lists_foreign=$lf"
	ok=0
	[ "${rok:-0}" -gt 0 ] && [ "${sw:-0}" -gt 0 ] && ok=1
	report "$ok" "[$p] race: the mount served SRC/d/f while swapping (reads_ok=$rok)"
	host "[$p] race: nothing appeared in the host's OUT" "[ ! -e \"\$OUTD/new\" ] && out_untouched $p"
}

# --- attacks under one symlink policy ---
attacks() {	# attacks POLICY
	local p=$1 spec

	t "[$p] client namespace sees the mount and an empty OUT" "out=$INSIDE" \
		'[ -z "$(ls -A "$OUTD")" ] && cat "$MNT/file"'

	# Reading and listing through the links that lead out.
	for spec in abs/secret fileabs dir/sub/climb/secret dir/deepclimb/secret \
		chain1/secret in/sub/climb/secret; do
		if [ "$p" = follow ] && [ -n "$FOLLOW_OUT" ]; then
			t "[$p] control: read MNT/$spec shows OUT's secret (server follows)" secret \
				"cat \"\$MNT/$spec\""
		else
			t "[$p] read MNT/$spec does not reach OUT" nosecret "cat \"\$MNT/$spec\""
		fi
	done
	for spec in abs dir/sub/climb chain1; do
		if [ "$p" = follow ] && [ -n "$FOLLOW_OUT" ]; then
			t "[$p] control: list MNT/$spec/ shows OUT's entries" secret "ls -A \"\$MNT/$spec/\""
		else
			t "[$p] list MNT/$spec/ does not show OUT's entries" nosecret "ls -A \"\$MNT/$spec/\""
		fi
	done

	# Writing and creating through them.
	if [ "$p" = follow ] && [ -n "$FOLLOW_OUT" ]; then
		t "[$p] control: create MNT/abs/made lands in OUT on the host" any \
			'echo made >"$MNT/abs/made"' '[ -f "$OUTD/made" ]'
		t "[$p] control: create MNT/dir/sub/climb/made2 lands in OUT on the host" any \
			'echo made >"$MNT/dir/sub/climb/made2"' '[ -f "$OUTD/made2" ]'
	else
		t "[$p] write MNT/abs/pwn1 leaves OUT untouched" any \
			'echo pwn >"$MNT/abs/pwn1"' "out_untouched $p"
		t "[$p] mkdir MNT/dir/sub/climb/pwn2 leaves OUT untouched" any \
			'mkdir "$MNT/dir/sub/climb/pwn2"' "out_untouched $p"
		t "[$p] append to MNT/fileabs leaves OUT's file untouched" any \
			'echo pwn >>"$MNT/fileabs"' "out_untouched $p"
		t "[$p] truncate MNT/fileabs leaves OUT's file untouched" any \
			'truncate -s 0 "$MNT/fileabs"' "out_untouched $p"
		t "[$p] create MNT/chain1/pwn3 leaves OUT untouched" any \
			'touch "$MNT/chain1/pwn3"' "out_untouched $p"
		t "[$p] symlink MNT/dir/deepclimb/pwn4 leaves OUT untouched" any \
			'ln -s x "$MNT/dir/deepclimb/pwn4"' "out_untouched $p"
		t "[$p] mkfifo MNT/in/sub/climb/pwn5 leaves OUT untouched" any \
			'mkfifo "$MNT/in/sub/climb/pwn5"' "out_untouched $p"
		t "[$p] rename MNT/file to MNT/abs/pwn6 leaves OUT untouched" any \
			'cp "$MNT/file" "$MNT/tomove" && mv "$MNT/tomove" "$MNT/abs/pwn6"' "out_untouched $p"
		t "[$p] chmod/touch through MNT/abs/secret leave OUT untouched" any \
			'chmod 777 "$MNT/abs/secret"; touch -d 2001-01-01 "$MNT/abs/secret"; rm -f "$MNT/abs/secret"' \
			"out_untouched $p"
	fi

	# ".." chains: resolved by the client's kernel in its own view.
	t "[$p] .. chains from inside the mount never show OUT" nosecret \
		'cd "$MNT/dir/sub" && cat "../../../out-$POLICY/secret"; ls -A "../../../out-$POLICY"; cat "$MNT/dir/sub/climb/../secret"; cat "$MNT/dir/../../out-$POLICY/secret"; ls -A "$MNT/dir/../.."'
	t "[$p] a .. chain that stays inside writes into SRC" ok \
		'cd "$MNT/dir/sub" && echo dd >../../dotdot' '[ "$(cat "$SRC/dotdot")" = dd ]'

	# Device nodes, fifos.
	t "[$p] mknod char device fails with EPERM$KERNEL_MKNOD" "fail:Operation not permitted" \
		'mknod "$MNT/cdev" c 1 3' '[ ! -e "$SRC/cdev" ] && [ ! -L "$SRC/cdev" ]'
	t "[$p] mknod block device fails with EPERM$KERNEL_MKNOD" "fail:Operation not permitted" \
		'mknod "$MNT/bdev" b 7 0' '[ ! -e "$SRC/bdev" ] && [ ! -L "$SRC/bdev" ]'
	t "[$p] mknod char device inside a subdirectory fails with EPERM$KERNEL_MKNOD" "fail:Operation not permitted" \
		'mknod "$MNT/dir/null" c 1 3' '[ ! -e "$SRC/dir/null" ]'
	t "[$p] mkfifo is allowed (specials=pipes)" ok \
		'mkfifo "$MNT/fifo"' '[ -p "$SRC/fifo" ]'

	# setuid / setgid.
	t "[$p] cp -p of a 4755 file: host copy has no setuid bit" any \
		'cp -p "$HOSTD/suid" "$MNT/suidcopy"' \
		'[ -f "$SRC/suidcopy" ] && [ ! -u "$SRC/suidcopy" ] && [ ! -g "$SRC/suidcopy" ]'
	t "[$p] chmod u+s: host file has no setuid bit" any \
		'touch "$MNT/s1" && chmod u+s "$MNT/s1"' '[ -f "$SRC/s1" ] && [ ! -u "$SRC/s1" ]'
	t "[$p] chmod 6755: host file has neither bit" any \
		'touch "$MNT/s2" && chmod 6755 "$MNT/s2"' '[ -f "$SRC/s2" ] && [ ! -u "$SRC/s2" ] && [ ! -g "$SRC/s2" ]'
	t "[$p] chmod g+s on a file: host file has no setgid bit" any \
		'touch "$MNT/s3" && chmod g+s "$MNT/s3"' '[ -f "$SRC/s3" ] && [ ! -g "$SRC/s3" ]'
	t "[$p] chmod g+s on a directory: host directory has no setgid bit" any \
		'mkdir "$MNT/sgdir" && chmod g+s "$MNT/sgdir"' '[ -d "$SRC/sgdir" ] && [ ! -g "$SRC/sgdir" ]'
	t "[$p] create with mode 04755 succeeds without the setuid bit on the host" ok \
		'perl -MFcntl -e "sysopen(F, \$ENV{MNT}.q(/s4), O_WRONLY|O_CREAT|O_EXCL, 04755) or die qq(\$!\\n)"' \
		'[ -f "$SRC/s4" ] && [ ! -u "$SRC/s4" ] && [ ! -g "$SRC/s4" ]'
	t "[$p] create with mode 02755 succeeds without the setgid bit on the host" ok \
		'perl -MFcntl -e "sysopen(F, \$ENV{MNT}.q(/s5), O_WRONLY|O_CREAT|O_EXCL, 02755) or die qq(\$!\\n)"' \
		'[ -f "$SRC/s5" ] && [ ! -g "$SRC/s5" ]'

	# Hard links across the mount boundary.
	t "[$p] hard link from outside into the mount fails with EXDEV" "fail:Invalid cross-device link" \
		'ln "$HOSTD/plain" "$MNT/hl"' '[ ! -e "$SRC/hl" ]'
	t "[$p] hard link from the mount to outside fails with EXDEV" "fail:Invalid cross-device link" \
		'ln "$MNT/file" "$HOSTD/hl-out"' '[ ! -e "$HOSTD/hl-out" ]'
	if [ "$p" != follow ]; then
		t "[$p] hard link of a link to OUT's file never links OUT's file into SRC" any \
			'ln -P "$MNT/fileabs" "$MNT/fhl"; cat "$MNT/fhl"' \
			'{ [ -L "$SRC/fhl" ] || [ ! -e "$SRC/fhl" ]; } && out_untouched $POLICY'
	fi

	# Symlink creation and visibility.
	case $p in
	deny)
		t "[$p] symlink to an absolute target fails with EPERM" "fail:Operation not permitted" \
			'ln -s /etc "$MNT/newlink"' '[ ! -L "$SRC/newlink" ]'
		t "[$p] symlink to a relative inside target fails with EPERM" "fail:Operation not permitted" \
			'ln -s file "$MNT/newlink2"' '[ ! -L "$SRC/newlink2" ]'
		t "[$p] absolute link to a directory is hidden (lstat ENOENT)" "fail:No such file or directory" \
			'stat "$MNT/abs"'
		t "[$p] absolute link to a file is hidden (lstat ENOENT)" "fail:No such file or directory" \
			'stat "$MNT/fileabs"'
		t "[$p] climbing relative link is hidden (lstat ENOENT)" "fail:No such file or directory" \
			'stat "$MNT/dir/sub/climb"'
		t "[$p] deep climbing link is hidden (lstat ENOENT)" "fail:No such file or directory" \
			'stat "$MNT/dir/deepclimb"'
		t "[$p] readdir of the root omits abs and fileabs" ok \
			'ls -A "$MNT" >"$T/scratch/ls"; ! grep -qx -e abs -e fileabs "$T/scratch/ls"'
		t "[$p] readdir (with attributes) of dir/sub omits climb" ok \
			'ls -lA "$MNT/dir/sub" >"$T/scratch/ls"; ! grep -q climb "$T/scratch/ls"'
		t "[$p] readdir shows the links that stay inside, not chain1 -> chain2 -> abs (out)" \
			"out=dir file ichain in" \
			'ls -A "$MNT" | grep -x -e chain1 -e chain2 -e dir -e file -e ichain -e in | sort | tr "\n" " " | sed "s/ \$//"'
		t "[$p] inside link dir/up is visible and readable" "out=$INSIDE" 'cat "$MNT/dir/up"'
		t "[$p] inside link in is visible, readlink verbatim" "out=dir" 'readlink "$MNT/in"'
		t "[$p] inside chain ichain resolves" ok 'ls "$MNT/ichain/" >/dev/null'
		t "[$p] chain1 -> chain2 -> abs ends at a hidden link" nosecret \
			'cat "$MNT/chain1/secret"; ls -A "$MNT/chain1/"'
		# Links are decided by where they really resolve, not by
		# their text alone (issue #12).
		t "[$p] hard link of an inside link (dir/up -> ../file) to the root fails with EPERM" \
			"fail:Operation not permitted" \
			'ln -P "$MNT/dir/up" "$MNT/uplink"' '[ ! -e "$SRC/uplink" ] && [ ! -L "$SRC/uplink" ]'
		t "[$p] c1 -> cdir/c2/.. with cdir/c2 -> .. leads out: hidden (lstat ENOENT)" \
			"fail:No such file or directory" 'stat "$MNT/c1"'
		t "[$p] c3 -> cdir/c4 with cdir/c4 -> ../../x leads out: hidden (lstat ENOENT)" \
			"fail:No such file or directory" 'stat "$MNT/c3"'
		t "[$p] readdir of the root omits the chains that lead out" ok \
			'ls -A "$MNT" >"$T/scratch/ls"; ! grep -qx -e c1 -e c3 "$T/scratch/ls"'
		t "[$p] cdir/c2 -> .. stays inside: visible" out=.. 'readlink "$MNT/cdir/c2"'
		;;
	opaque)
		t "[$p] readlink of the absolute link is verbatim" "out=$T/out-$p" 'readlink "$MNT/abs"'
		t "[$p] readlink of the climbing link is verbatim" "out=../../../out-$p" \
			'readlink "$MNT/dir/sub/climb"'
		t "[$p] the absolute link is a symlink to the client" "out=symbolic link" \
			'stat -c %F "$MNT/abs"'
		t "[$p] symlink creation stores the target verbatim" "out=$T/out-$p" \
			'ln -s "$OUTD" "$MNT/newlink" && readlink "$MNT/newlink"' \
			'[ "$(readlink "$SRC/newlink")" = "$OUTD" ]'
		t "[$p] odd symlink target bytes are stored verbatim" "out=../..//x y/./../z/" \
			'ln -s "../..//x y/./../z/" "$MNT/odd" && readlink "$MNT/odd"' \
			'[ "$(readlink "$SRC/odd")" = "../..//x y/./../z/" ]'
		t "[$p] a newly created link to OUT does not reach OUT" nosecret \
			'cat "$MNT/newlink/secret"; ls -A "$MNT/newlink/"'
		;;
	follow)
		if [ -n "$FOLLOW_OUT" ]; then
			t "[$p] control: MNT/abs is followed by the server" "out=directory" \
				'stat -c %F "$MNT/abs"'
		else
			t "[$p] MNT/abs, leading out of the export, stays a link (not followed)" \
				"out=symbolic link" 'stat -c %F "$MNT/abs"'
		fi
		;;
	esac

	# xattr namespaces.
	t "[$p] setfattr trusted.* is refused$KERNEL_TRUSTED" fail: \
		'setfattr -n trusted.evil -v 1 "$MNT/file"' '[ -z "$(xattr_get trusted.evil "$SRC/file")" ]'
	t "[$p] setfattr security.* is refused" fail: \
		'setfattr -n security.evil -v 1 "$MNT/file"' '[ -z "$(xattr_get security.evil "$SRC/file")" ]'
	t "[$p] getfattr -d shows no trusted.* or security.* names" ok \
		'getfattr -d -m - "$MNT/file" >"$T/scratch/xa"; ! grep -q -e "^trusted\." -e "^security\." "$T/scratch/xa"'
	if [ -n "$ROOT" ]; then
		t "[$p] getfattr of a host trusted.* attribute fails" fail: \
			'getfattr -n trusted.hidden "$MNT/file"'
		t "[$p] getfattr of a host security.* attribute fails" fail: \
			'getfattr -n security.hidden "$MNT/file"'
	else
		report 1 "[$p] getfattr of host trusted.* and security.* attributes fails # SKIP not root: setting them on the host needs CAP_SYS_ADMIN"
	fi
	if [ -n "$OVER_NFS" ]; then
		t "[$p] user.* is refused with EOPNOTSUPP (NFSv4.0 has no xattrs), nothing lands on the host" \
			"fail:Operation not supported" 'setfattr -n user.ok -v yes "$MNT/file"' \
			'[ -z "$(xattr_get user.ok "$SRC/file")" ]'
	else
		t "[$p] user.* round-trips to the host" "out=yes" \
			'setfattr -n user.ok -v yes "$MNT/file" && getfattr --only-values -n user.ok "$MNT/file"' \
			'[ "$(xattr_get user.ok "$SRC/file")" = yes ]'
	fi
}

out_untouched_or_follow() {
	{ [ "$1" = follow ] && [ -n "$FOLLOW_OUT" ]; } || out_untouched "$1"
}

# A writable share that follows links would follow the client's own links
# (esc -> /): fsbridge refuses it unless trust_client says the client is
# trusted.  If it ever mounts, show what the client then gets.
follow_untrusted() {
	local rc ok=0 src
	export POLICY=follow SRC=$T/src-follow MNT=$T/mnt-follow OUTD=$T/out-follow
	src=$SRC
	[ -n "${ESCAPE_SOURCE:-}" ] && src=${ESCAPE_SOURCE//@POLICY@/follow}
	MOUNTS+=("$MNT")
	timeout -k 5 30 "$FSBRIDGE" mount -o symlinks=follow,cache=none "$src" "$MNT" \
		>"$W/out" 2>"$W/err" </dev/null
	rc=$?
	sleep 0.5
	[ "$rc" = 2 ] && ! is_mounted "$MNT" && [ "$(awk 'END { print NR }' "$W/err")" = 1 ] &&
		grep -q '^fsbridge: .*trust_client' "$W/err" && ok=1
	report "$ok" "[follow,rw] mount -o symlinks=follow without trust_client is refused (exit 2, one line naming trust_client)" \
		"exit $rc; stderr: $(head -c 300 "$W/err")"
	if is_mounted "$MNT"; then
		t "[follow,rw] a link the client made (esc -> OUT) is not followed by the server" nosecret \
			'ln -s "$OUTD" "$MNT/esc"; cat "$MNT/esc/secret"; ls -A "$MNT/esc/"'
		timeout -k 5 30 "$FSBRIDGE" umount "$MNT" >/dev/null 2>&1
		rm -f "$SRC/esc"
	fi
	t_ro_follow
}

t_ro_follow() {	# a read-only share may follow: the client cannot make links
	if do_mount follow "ro,symlinks=follow,cache=none"; then
		t "[follow,ro] ln -s / esc fails with EROFS" "fail:Read-only file system" \
			'ln -s / "$MNT/esc"' '[ ! -L "$SRC/esc" ]'
		do_umount follow
	fi
}
follow_untrusted

for p in deny opaque follow; do
	export POLICY=$p SRC=$T/src-$p MNT=$T/mnt-$p OUTD=$T/out-$p
	opts="symlinks=$p,cache=none"
	[ "$p" = follow ] && opts="symlinks=follow,trust_client,cache=none"
	if do_mount "$p" "$opts"; then
		attacks "$p"
		race "$p"
		do_umount "$p"
	fi
	{ [ "$p" = follow ] && [ -n "$FOLLOW_OUT" ]; } ||
		host "[$p] OUT untouched after everything" "out_untouched $p"
done

# --- deny with long cache timeouts: a rename that makes a link lead out ---
# r/d1/l -> ../../file is inside at depth 2; once r/d1 is moved to the
# root it leads out (to $T/file), and the client must not keep following
# its cached entry.  watch=none: no notification reaches the client, as
# for a guest, so only the server's own answers can keep it right.
export POLICY=deny SRC=$T/src-deny MNT=$T/mnt-denyc OUTD=$T/out-deny
if do_mount deny "symlinks=deny,cache=always,watch=none"; then
	t "[deny,cache=always] r/d1/l is visible and read, then r/d1 is renamed to d1" "out=$INSIDE" \
		'cat "$MNT/r/d1/l" && mv "$MNT/r/d1" "$MNT/d1"'
	t "[deny,cache=always] after the rename d1/l is hidden (lstat ENOENT)" \
		"fail:No such file or directory" 'stat "$MNT/d1/l"'
	t "[deny,cache=always] after the rename readlink of d1/l fails" fail: 'readlink "$MNT/d1/l"'
	t "[deny,cache=always] after the rename d1/l does not lead to the file outside" nosecret \
		'cat "$MNT/d1/l"'
	t "[deny,cache=always] after the rename readdir of d1 omits l" ok \
		'ls -A "$MNT/d1" >"$T/scratch/ls"; ! grep -qx l "$T/scratch/ls"'
	do_umount deny
fi

# --- read-only share: every mutation fails with EROFS ---
export POLICY=ro SRC=$T/src-ro MNT=$T/mnt-ro OUTD=$T/out-ro
snapshot "$SRC" >"$W/src-ro.before"
if do_mount ro "ro,symlinks=opaque"; then
	EROFS="fail:Read-only file system"
	t "[ro] read still works" "out=$INSIDE" 'cat "$MNT/file"'
	t "[ro] create (O_CREAT) fails with EROFS" "$EROFS" 'echo x >"$MNT/new"'
	t "[ro] touch a new file fails with EROFS" "$EROFS" 'touch "$MNT/new2"'
	t "[ro] open an existing file for writing fails with EROFS" "$EROFS" 'echo x >>"$MNT/file"'
	t "[ro] mkdir fails with EROFS" "$EROFS" 'mkdir "$MNT/nd"'
	t "[ro] unlink fails with EROFS" "$EROFS" 'rm -f "$MNT/file"'
	t "[ro] rmdir fails with EROFS" "$EROFS" 'rmdir "$MNT/emptydir"'
	t "[ro] rename fails with EROFS" "$EROFS" 'mv "$MNT/file" "$MNT/dir/file2"'
	t "[ro] chmod fails with EROFS" "$EROFS" 'chmod 600 "$MNT/file"'
	t "[ro] chown fails with EROFS" "$EROFS" 'chown 1:1 "$MNT/file"'
	t "[ro] utimes fails with EROFS" "$EROFS" 'touch -d 2000-01-01 "$MNT/file"'
	t "[ro] truncate fails with EROFS" "$EROFS" 'truncate -s 0 "$MNT/file"'
	t "[ro] setxattr fails with EROFS" "$EROFS" 'setfattr -n user.x -v 1 "$MNT/file"'
	t "[ro] removexattr fails with EROFS" "$EROFS" 'setfattr -x user.keep "$MNT/file"'
	t "[ro] symlink fails with EROFS" "$EROFS" 'ln -s file "$MNT/sl"'
	t "[ro] link fails with EROFS" "$EROFS" 'ln "$MNT/file" "$MNT/hl"'
	t "[ro] mkfifo fails with EROFS" "$EROFS" 'mkfifo "$MNT/fifo"'
	t "[ro] mknod device fails (EROFS or EPERM)" fail: 'mknod "$MNT/cdev" c 1 3'
	do_umount ro
fi
snapshot "$SRC" >"$W/src-ro.now"
host "[ro] SRC unchanged by the read-only share" 'cmp -s "$W/src-ro.before" "$W/src-ro.now"'
host "[ro] OUT untouched" "out_untouched ro"

# --- nothing outside the shares changed ---
snapshot "$T" "${SNAP_PRUNE[@]}" >"$W/t.after"
host "nothing changed under the test directory outside SRC" 'cmp -s "$W/t.before" "$W/t.after"' ||
	true
if ! cmp -s "$W/t.before" "$W/t.after"; then
	diff "$W/t.before" "$W/t.after" | head -n 20 | sed 's/^/#   /'
fi

echo "1..$n"
# The TAP lines carry the verdict; "$failures" is for diagnostics.
[ "$failures" = 0 ] || echo "# $failures of $n failed"
exit 0
