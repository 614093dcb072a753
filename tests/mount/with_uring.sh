#!/bin/bash
# with_uring.sh: run a mount suite with its mounts served over io_uring.
#
#   tests/mount/with_uring.sh SUITE      SUITE relative to tests/, e.g. mount/posix.sh
#
# Turns FUSE over io_uring on in the kernel for the run (uring_param.sh:
# the value found is written back at the end), and gives the suite an
# $FSBRIDGE whose `mount` takes -o $FSB_MOUNT_OPTS (io_uring=on here)
# before the suite's own options: the suite is unchanged and every mount
# it makes must use the rings or fail.  The TAP output is the suite's.
# Skips (with the reason) when not root or the kernel lacks the switch.
set -u
here=$(dirname "$0")
. "$here/uring_param.sh"

suite=${1:?"usage: with_uring.sh SUITE"}
why=$(uring_param_why_not)
if [ -n "$why" ]; then
	echo "1..0 # SKIP $why"
	exit 0
fi
if [ -z "${FSBRIDGE:-}" ]; then
	echo "1..0 # SKIP FSBRIDGE is not set"
	exit 0
fi
shim=$(mktemp -d /tmp/fsb-uring.XXXXXX) || exit 1
trap 'uring_param_restore; rm -rf "$shim"' EXIT
trap 'exit 130' INT TERM HUP
cat > "$shim/fsbridge" <<'SHIM'
#!/bin/sh
# $FSBRIDGE for a suite run by with_uring.sh: mount takes -o $FSB_MOUNT_OPTS first
if [ "${1:-}" = mount ]; then
	shift
	exec "$FSB_REAL" mount -o "$FSB_MOUNT_OPTS" "$@"
fi
exec "$FSB_REAL" "$@"
SHIM
chmod 755 "$shim" "$shim/fsbridge"
uring_param_on || { echo "1..0 # SKIP cannot write $URING_PARAM"; exit 0; }
FSB_REAL=$FSBRIDGE FSB_MOUNT_OPTS=${FSB_MOUNT_OPTS:-io_uring=on} FSBRIDGE=$shim/fsbridge \
	bash "$here/../$suite"
