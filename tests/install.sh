#!/bin/bash
# install.sh: `make install` from the build tree puts every program and
# manual page where it belongs, the installed programs find each other
# (launch its guest programs in $(pkglibexecdir), fsbridge-mkinitramfs its
# fsbridge-init) also under another prefix than the configured one, and
# `make uninstall` takes them all away again.  Two installs: with
# prefix=DIR (launch doctor run from there) and with DESTDIR=DIR.  Each
# goes to a temporary directory; the build tree is not changed.  TAP.
set -u

. "$(dirname "$0")/lib/tap.sh"

B=${top_builddir:-.}
src=${top_srcdir:-$(dirname "$0")/..}
[ -f "$B/Makefile" ] || skip_all "no Makefile in $B (run from make check)"
command -v make >/dev/null 2>&1 || skip_all "make not found"

T=$(mktemp -d /tmp/fsb-install.XXXXXX) || exit 1
trap 'rm -rf --one-file-system "$T"' EXIT

BINS="fsbridge launch fsbridge-mkinitramfs"
LIBEXECS="fsbridge-init fsbridge-agent"
PAGES="fsbridge.1 launch.1 fsbridge-mkinitramfs.1"

# make in the build tree, serially, with nothing of the outer make's
# command line (make check's TESTS=...) or jobserver
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$B" "$@" >"$T/make.log" 2>&1 && return 0
	tail -5 "$T/make.log" | sed 's/^/# make: /'
	return 1
}

# every installed file is there under root (PREFIX: bin, libexec/fsbridge,
# share/man/man1), the pages as in the sources
installed() {
	local p=$1 f
	for f in $BINS; do [ -x "$p/bin/$f" ] || { echo "missing $p/bin/$f"; return 1; }; done
	for f in $LIBEXECS; do
		[ -x "$p/libexec/fsbridge/$f" ] || { echo "missing $p/libexec/fsbridge/$f"; return 1; }
	done
	for f in $PAGES; do
		cmp -s "$p/share/man/man1/$f" "$src/man/$f" || { echo "bad $p/share/man/man1/$f"; return 1; }
	done
}

# launch doctor of the installed launch reports every program of ours as
# found, at its installed place under root.  Its other lines (kernel, KVM,
# ...) depend on the machine.  No FSBRIDGE* variable points elsewhere.
doctor_finds_all() {
	local root=$1 out what
	out=$(cd / && env -u FSBRIDGE -u FSBRIDGE_MKINITRAMFS -u FSBRIDGE_AGENT \
		FSBRIDGE_STATE_DIR="$T/state" FSBRIDGE_VOLUME_DIR="$T/volumes" \
		"$root/bin/launch" doctor 2>&1)
	for what in fsbridge fsbridge-mkinitramfs fsbridge-init fsbridge-agent; do
		if ! printf '%s\n' "$out" | grep -q "^ok  *$what: $root/"; then
			printf '%s\n' "$out" | grep -- "$what:" | sed 's/^/# /'
			return 1
		fi
	done
}

# nothing but (empty) directories left under dir
emptied() { [ -z "$(find "$1" ! -type d)" ] || { find "$1" ! -type d; return 1; }; }

# --- make install prefix=DIR: the whole tree elsewhere than configured
P=$T/usr
check "make install prefix=DIR succeeds" mk install prefix="$P"
check "every program and page is installed under DIR" installed "$P"
check "the installed launch doctor finds fsbridge, the builder, fsbridge-init and the agent under DIR" \
	doctor_finds_all "$P"
check "the installed fsbridge-mkinitramfs --print-init names DIR's fsbridge-init" \
	[ "$("$P/bin/fsbridge-mkinitramfs" --print-init 2>/dev/null)" = "$P/libexec/fsbridge/fsbridge-init" ]
check "the installed fsbridge --help runs" \
	sh -c '"$1" --help > "$2" 2>&1 && grep -q "^usage: fsbridge mount" "$2"' sh "$P/bin/fsbridge" "$T/help"
check "the installed launch --help runs" \
	sh -c '"$1" --help > "$2" 2>&1 && grep -q "^usage: launch" "$2"' sh "$P/bin/launch" "$T/help"
check "make uninstall prefix=DIR succeeds" mk uninstall prefix="$P"
check "make uninstall leaves no file under DIR" emptied "$P"

# --- make install DESTDIR=DIR: the configured prefix under DIR
prefix=$(sed -n 's/^prefix = //p' "$B/Makefile")
D=$T/dest
check "make install DESTDIR=DIR succeeds" mk install DESTDIR="$D"
check "every program and page is installed under DIR$prefix" installed "$D$prefix"
check "launch doctor from DIR$prefix finds every program there" doctor_finds_all "$D$prefix"
check "make uninstall DESTDIR=DIR succeeds" mk uninstall DESTDIR="$D"
check "make uninstall DESTDIR=DIR leaves no file" emptied "$D"

echo "1..$n"
