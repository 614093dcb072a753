#!/bin/sh
# build.sh: builds the fsb_notify guest module (fsb_notify.ko) against the
# headers of guest kernel VERSION (/lib/modules/VERSION/build, from
# Debian's linux-headers-VERSION, which linux-headers-cloud-amd64 pulls
# in for the current linux-image-cloud-amd64).  The sources are copied to
# OUTDIR and built there, so a read-only or shared source tree stays
# clean.  Prints the .ko's path.  Exits 0 on success, 1 on a failed
# build, 77 (and one line on stderr saying why) when the headers or a
# compiler are missing.
#
# With --check, builds nothing: exits 0 when it could build, else 77 with
# the reason.
#
# usage: guest-overlay/kmod/build.sh VERSION OUTDIR
#        guest-overlay/kmod/build.sh --check VERSION
# Environment: FSB_KMOD_KDIR, the kernel build directory (default
# /lib/modules/VERSION/build).
set -u

check=
if [ $# -eq 2 ] && [ "$1" = --check ]; then
	check=1
	shift
	set -- "$1" ""
fi
if [ $# -ne 2 ]; then
	echo "usage: $0 VERSION OUTDIR | $0 --check VERSION" >&2
	exit 2
fi
ver=$1
out=$2
src=$(cd "$(dirname "$0")" && pwd)
kdir=${FSB_KMOD_KDIR:-/lib/modules/$ver/build}

if [ ! -f "$kdir/Makefile" ]; then
	echo "fsb_notify: no headers for kernel $ver in $kdir (apt-get install linux-headers-$ver); module not built" >&2
	exit 77
fi
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$kdir/.config" 2>/dev/null)
cc=${cc:-gcc}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fsb_notify: no $cc, the compiler kernel $ver was built with; module not built" >&2
	exit 77
fi

[ -n "$check" ] && exit 0
mkdir -p "$out" || exit 1
for f in Kbuild fsb_notify.c fsb_notify.h; do
	cmp -s "$src/$f" "$out/$f" || cp "$src/$f" "$out/$f" || exit 1
done
if ! make -s -C "$kdir" M="$out" modules >"$out/build.log" 2>&1; then
	echo "fsb_notify: build against $kdir failed:" >&2
	sed 's/^/  /' "$out/build.log" >&2
	exit 1
fi
echo "$out/fsb_notify.ko"
