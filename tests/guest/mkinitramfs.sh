#!/bin/bash
# tests/guest/mkinitramfs.sh: fsbridge-mkinitramfs on a made-up modules
# directory (--moddir): module closure and load order, built-in modules,
# .ko.zst and .ko.xz modules, host trees added with -a, the archive's
# format (read back with cpio), and every error the builder reports.  Needs
# no guest kernel and no QEMU; needs zstd and cpio to read images back.
# TAP output.
#
# By hand: top_builddir=BUILD bash tests/guest/mkinitramfs.sh
set -u

top_builddir=${top_builddir:-$PWD}
MKI=$top_builddir/guest-overlay/fsbridge-mkinitramfs

[ -x "$MKI" ] || { echo "Bail out! $MKI not built"; exit 1; }
for tool in zstd cpio xz; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsb-mki.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

. "$(dirname "$0")/../lib/tap.sh"
show() { sed 's/^/# /' "$@"; }

# fails_with STATUS PATTERN DESCRIPTION -- ARGS...: the builder exits
# with STATUS and says PATTERN on stderr.
fails_with() {
	local want=$1 pattern=$2 what=$3 rc
	shift 4
	"$MKI" "$@" 2>"$tmp/err" >/dev/null
	rc=$?
	if [ "$rc" = "$want" ] && grep -q -- "$pattern" "$tmp/err"; then
		ok "$what"
	else
		not_ok "$what (status $rc)"
	fi
	show "$tmp/err"
}

# unpack IMAGE DIR: extract an image into DIR.
unpack() {
	mkdir -p "$2" && zstd -dc "$1" | (cd "$2" && cpio -idm --quiet 2>/dev/null)
}

# ---- a made-up kernel's modules ----
V=9.9.9-fsbtest
M=$tmp/modules/$V
mkdir -p "$M/kernel/a" "$tmp/orig"
for mod in virtio_ring virtio fuse virtio_fs loop_a loop_b needs_gone gz_mod; do
	head -c 5000 /dev/urandom >"$tmp/orig/$mod.ko"
	echo "module $mod" >>"$tmp/orig/$mod.ko"
done
zstd -q "$tmp/orig/virtio_ring.ko" -o "$M/kernel/a/virtio_ring.ko.zst"
xz -c "$tmp/orig/virtio.ko" >"$M/kernel/a/virtio.ko.xz"
cp "$tmp/orig/fuse.ko" "$M/kernel/a/fuse.ko"
zstd -q "$tmp/orig/virtio_fs.ko" -o "$M/kernel/a/virtio-fs.ko.zst"
cp "$tmp/orig/loop_a.ko" "$tmp/orig/loop_b.ko" "$tmp/orig/needs_gone.ko" "$M/kernel/a/"
gzip -c "$tmp/orig/gz_mod.ko" >"$M/kernel/a/gz_mod.ko.gz"
cat >"$M/modules.dep" <<'EOF'
kernel/a/virtio_ring.ko.zst:
kernel/a/virtio.ko.xz: kernel/a/virtio_ring.ko.zst
kernel/a/fuse.ko:
kernel/a/virtio-fs.ko.zst: kernel/a/virtio.ko.xz kernel/a/virtio_ring.ko.zst kernel/a/fuse.ko
kernel/a/loop_a.ko: kernel/a/loop_b.ko
kernel/a/loop_b.ko: kernel/a/loop_a.ko
kernel/a/needs_gone.ko: kernel/a/gone.ko
kernel/a/gz_mod.ko.gz:
EOF
printf 'kernel/fs/ext4/ext4.ko\nkernel/fs/overlayfs/overlay.ko\n' >"$M/modules.builtin"
FAKE=(-k "$V" --moddir "$M" --no-default-modules)

# ---- a host tree for -a ----
H=$tmp/host
mkdir -p "$H/sub/deeper"
printf 'plain\n' >"$H/file.txt"
printf '#!/bin/sh\necho hi\n' >"$H/sub/tool"
chmod 0750 "$H/sub/tool"
: >"$H/sub/deeper/empty"
ln -s ../file.txt "$H/sub/link"

echo "1..32"

# ---- a good build ----
IMG=$tmp/a.cpio.zst
"$MKI" "${FAKE[@]}" -m virtio-fs -m ext4 -a "$H:/opt/tree" \
	-a "$H/file.txt:/etc/greeting" -o "$IMG" 2>"$tmp/err"
check "builds from .ko, .ko.zst and .ko.xz modules ('-' in names as '_')" [ $? = 0 ]
show "$tmp/err"
check "the summary counts 4 modules and 1 built in" \
	grep -q "kernel $V, 4 modules (1 more built in)" "$tmp/err"
check "the image is one zstd frame with a checksum that zstd accepts" \
	zstd -tq "$IMG"

unpack "$IMG" "$tmp/x"
same=yes
for mod in virtio_ring virtio fuse virtio_fs; do
	cmp -s "$tmp/orig/$mod.ko" "$tmp/x/lib/modules/$V/$mod.ko" || same=no
done
check "modules are stored uncompressed, byte for byte" [ $same = yes ]
check "built-in and unrequested modules are left out" \
	bash -c '! ls "$1" | grep -Eq "ext4|overlay|loop|gz_mod"' _ "$tmp/x/lib/modules/$V"

pos() { grep -n "/$1.ko\$" "$tmp/x/etc/modules.order" | cut -d: -f1; }
check "modules.order lists every module after the ones it needs" bash -c \
	'[ "$1" -lt "$2" ] && [ "$2" -lt "$4" ] && [ "$3" -lt "$4" ] && [ $(wc -l <"$5") = 4 ]' \
	_ "$(pos virtio_ring)" "$(pos virtio)" "$(pos fuse)" "$(pos virtio_fs)" "$tmp/x/etc/modules.order"
check "modules.order holds absolute paths in the image" \
	grep -qx "/lib/modules/$V/virtio_fs.ko" "$tmp/x/etc/modules.order"
show "$tmp/x/etc/modules.order"

zstd -dc "$IMG" | cpio -itv --quiet 2>/dev/null >"$tmp/list"
check "/dev/console is character device 5,1" \
	grep -Eq '^crw------- +1 root +root +5, +1 .* dev/console$' "$tmp/list"
check "/init is an executable regular file" \
	grep -Eq '^-rwxr-xr-x .* init$' "$tmp/list"
check "/proc and /sys are there" \
	bash -c 'grep -Eq "^d.* proc$" "$1" && grep -Eq "^d.* sys$" "$1"' _ "$tmp/list"
check "a host tree is copied with its files" \
	diff -r --no-dereference "$H" "$tmp/x/opt/tree"
check "modes and symlinks are kept" bash -c \
	'[ "$(stat -c %a "$1/sub/tool")" = 750 ] && [ "$(readlink "$1/sub/link")" = ../file.txt ]' \
	_ "$tmp/x/opt/tree"
check "a single host file lands at its image path" \
	cmp -s "$H/file.txt" "$tmp/x/etc/greeting"
# Every name's parent directories were listed before it.
parents_first() {
	awk '{ n = split($0, p, "/"); d = p[1]
	       for (i = 2; i <= n; i++) { if (!(d in seen)) bad = 1; d = d "/" p[i] }
	       seen[$0] = 1 }
	     END { exit bad }' "$1"
}
zstd -dc "$IMG" | cpio -it --quiet 2>/dev/null >"$tmp/names"
check "parents come before children in the archive" parents_first "$tmp/names"

# ---- out-of-tree modules (--add-module) ----
mkdir -p "$tmp/kmod"
head -c 3000 /dev/urandom >"$tmp/kmod/my-extra.ko"
zstd -q "$tmp/kmod/my-extra.ko" -o "$tmp/kmod/other.ko.zst"
"$MKI" "${FAKE[@]}" -m fuse --add-module "$tmp/kmod/my-extra.ko" \
	--add-module "$tmp/kmod/other.ko.zst" -o "$tmp/ko.img" 2>"$tmp/err"
check "--add-module adds out-of-tree .ko and .ko.zst modules" [ $? = 0 ]
show "$tmp/err"
unpack "$tmp/ko.img" "$tmp/ko"
check "they are stored uncompressed under their module names ('-' as '_')" bash -c \
	'cmp -s "$1/my-extra.ko" "$2/my_extra.ko" && cmp -s "$1/my-extra.ko" "$2/other.ko"' \
	_ "$tmp/kmod" "$tmp/ko/lib/modules/$V"
check "they load after the kernel's modules, in the order given" \
	[ "$(tr '\n' ' ' <"$tmp/ko/etc/modules.order")" = "/lib/modules/$V/fuse.ko /lib/modules/$V/my_extra.ko /lib/modules/$V/other.ko " ]
cp "$tmp/kmod/my-extra.ko" "$tmp/kmod/fuse.ko"
fails_with 1 "module fuse is already in the image" "--add-module refuses a name already in the image" -- \
	"${FAKE[@]}" -m fuse --add-module "$tmp/kmod/fuse.ko" -o "$tmp/ko2.img"

# ---- errors ----
mkdir "$tmp/out"
fails_with 1 "module no_such_module not found" "an unknown module is named" -- \
	"${FAKE[@]}" -m no_such_module -o "$tmp/out/x"
fails_with 1 "module gone (needed by needs_gone) not found" "a missing dependency is named" -- \
	"${FAKE[@]}" -m needs_gone -o "$tmp/out/x"
fails_with 1 "dependency loop" "a dependency loop is reported" -- \
	"${FAKE[@]}" -m loop_a -o "$tmp/out/x"
fails_with 1 "gzip-compressed modules are not supported" "a gzip module is refused clearly" -- \
	"${FAKE[@]}" -m gz_mod -o "$tmp/out/x"
fails_with 1 "no modules for kernel 0.0-none" "an unknown kernel version is reported" -- \
	-k 0.0-none -o "$tmp/out/x"
fails_with 1 "cannot write $tmp/no/dir/x" "an unwritable output is reported" -- \
	"${FAKE[@]}" -o "$tmp/no/dir/x"
fails_with 1 "already in the image" "a path given twice is refused" -- \
	"${FAKE[@]}" -a "$H/file.txt:/init" -o "$tmp/out/x"
check "failures leave nothing in the output directory" [ -z "$(ls -A "$tmp/out")" ]
fails_with 1 "dynamically linked" "a dynamically linked init is refused" -- \
	"${FAKE[@]}" --init /bin/sh -o "$tmp/out/x"
fails_with 2 "HOST_PATH:/IMAGE_PATH" "-a without an image path is a usage error" -- \
	"${FAKE[@]}" -a "$H/file.txt" -o "$tmp/out/x"
fails_with 2 "no output file" "no -o is a usage error" -- "${FAKE[@]}"
fails_with 2 "fsbridge-mkinitramfs --help" "an unknown option is a usage error" -- --no-such-option
"$MKI" --help >"$tmp/help"
check "--help succeeds and shows the usage" bash -c '[ "$1" = 0 ] && grep -q "^usage: fsbridge-mkinitramfs" "$2"' _ $? "$tmp/help"

# ---- replacing an existing image ----
echo old >"$tmp/out/img"
"$MKI" -q "${FAKE[@]}" -m fuse -o "$tmp/out/img"
check "an existing output is replaced, and no temporary file is left" bash -c \
	'[ "$1" = 0 ] && zstd -tq "$2/img" && [ "$(ls -A "$2")" = img ]' _ $? "$tmp/out"
