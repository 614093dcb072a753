#!/bin/bash
# run_as_user.sh: reruns a test suite as the ordinary user fsb-user, so
# what works for root in `make check` is shown to work without root too
# (the suites themselves run as whoever runs them).
#
#   tests/lib/run_as_user.sh SUITE     SUITE relative to tests/, e.g. launch/launch.sh
#
# The build tree and the sources may sit where fsb-user cannot reach them
# (a clone under /root), so the suite, tap.sh and the build's programs are
# copied to a directory of their own, readable by all, and run from there
# with top_builddir, top_srcdir and FSBRIDGE pointing at the copy.  The
# suite's TAP output is this script's.  Needs root to create the user; a
# `make check` run by an ordinary user already runs every suite as one.
set -u

. "$(dirname "$0")/tap.sh"

suite=${1:?"usage: run_as_user.sh SUITE"}
src=${top_srcdir:-$(dirname "$0")/../..}
B=${top_builddir:-.}
[ -f "$src/tests/$suite" ] || skip_all "no suite tests/$suite"
[ "$(id -u)" = 0 ] || skip_all "not root: the suite itself runs as this user already"
test_user fsb-user || skip_all "cannot create the user fsb-user (useradd)"

copy=$(mktemp -d /tmp/fsb-as-user.XXXXXX) || exit 1
trap 'rm -rf --one-file-system "$copy"' EXIT
chmod 755 "$copy"
mkdir -p "$copy/src" "$copy/build"
cp -R "$src/tests" "$copy/src/" || exit 1
# the build's programs (executable regular files), at their places
(cd "$B" && find . -path ./src -prune -o -type f -perm -u+x -print0 |
	tar --null -T - -cf -) | tar -C "$copy/build" -xf - || exit 1
# the guest module's sources, which launch builds into the image
if [ -d "$B/guest-overlay/kmod-build" ]; then
	mkdir -p "$copy/build/guest-overlay" &&
	cp -R "$B/guest-overlay/kmod-build" "$copy/build/guest-overlay/" || exit 1
fi
chmod -R a+rX "$copy"

cd "$copy" || exit 1
# (a user's own PATH, not root's: no /root/... entry the user may not search)
# (FSBRIDGE_WARM=0 make check: the launch suites boot as the user too)
as_user fsb-user env PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin top_srcdir="$copy/src" top_builddir="$copy/build" \
	${FSBRIDGE_WARM+FSBRIDGE_WARM="$FSBRIDGE_WARM"} \
	FSBRIDGE="$copy/build/fsbridge/fsbridge" bash "$copy/src/tests/$suite"
