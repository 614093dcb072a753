#!/bin/bash
# with_passthrough.sh: run a mount suite with FUSE passthrough on every mount.
#
#   tests/mount/with_passthrough.sh SUITE   SUITE relative to tests/, e.g. mount/posix.sh
#
# Gives the suite an $FSBRIDGE whose `mount` takes -o $FSB_MOUNT_OPTS
# (passthrough=on here) before the suite's own options: the suite is
# unchanged and every mount it makes must get passthrough or fail.  With
# FSB_MOUNT_OPTS=io_uring=on,passthrough=on it goes through with_uring.sh
# (both at once).  The TAP output is the suite's.  Root only (passthrough
# needs CAP_SYS_ADMIN; passthrough.sh checks what a user gets); skips
# with the reason where the kernel has no passthrough.
set -u
here=$(dirname "$0")

suite=${1:?"usage: with_passthrough.sh SUITE"}
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP passthrough needs root (passthrough.sh checks the refusal)"; exit 0; }
[ -n "${FSBRIDGE:-}" ] || { echo "1..0 # SKIP FSBRIDGE is not set"; exit 0; }
major=$(uname -r | cut -d. -f1) minor=$(uname -r | cut -d. -f2)
[ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 9 ]; } ||
	{ echo "1..0 # SKIP the kernel has no FUSE passthrough (Linux 6.9+)"; exit 0; }
opts=${FSB_MOUNT_OPTS:-passthrough=on}
case $opts in
*io_uring=on*) FSB_MOUNT_OPTS=$opts exec bash "$here/with_uring.sh" "$suite" ;;
esac
shim=$(mktemp -d /tmp/fsb-pt.XXXXXX) || exit 1
trap 'rm -rf "$shim"' EXIT
trap 'exit 130' INT TERM HUP
cat > "$shim/fsbridge" <<'SHIM'
#!/bin/sh
# $FSBRIDGE for a suite run by with_passthrough.sh: mount takes -o $FSB_MOUNT_OPTS first
if [ "${1:-}" = mount ]; then
	shift
	exec "$FSB_REAL" mount -o "$FSB_MOUNT_OPTS" "$@"
fi
exec "$FSB_REAL" "$@"
SHIM
chmod 755 "$shim" "$shim/fsbridge"
FSB_REAL=$FSBRIDGE FSB_MOUNT_OPTS=$opts FSBRIDGE=$shim/fsbridge bash "$here/../$suite"
