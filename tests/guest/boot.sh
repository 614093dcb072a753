#!/bin/bash
# tests/guest/boot.sh: build a guest image with fsbridge-mkinitramfs (the
# static probe added as /probe), boot it in QEMU under TCG with one
# virtio-fs share served by QEMU's virtiofsd, and check the round trip:
# the guest wrote a file the host sees, read a file the host wrote, and
# fsbridge-init reported "exit 0" and powered off.  Boots both -M pc
# (virtio-pci) and -M microvm (virtio-mmio) and prints their times as TAP
# comments, then boots once with a tag no device has and checks for the
# init's one error line and the power-off.  The builder's own checks are
# in mkinitramfs.sh.  TAP output.
#
# By hand: top_builddir=BUILD top_srcdir=SRC bash tests/guest/boot.sh
# Environment: FSBRIDGE_QEMU (default qemu-system-x86_64), FSBRIDGE_VIRTIOFSD,
# BOOT_TIMEOUT (seconds per boot, default 120).
set -u
. "$(dirname "$0")/../lib/tap.sh"

top_builddir=${top_builddir:-$PWD}
MKI=$top_builddir/guest-overlay/fsbridge-mkinitramfs
PROBE=$top_builddir/tests/guest/probe
QEMU=${FSBRIDGE_QEMU:-qemu-system-x86_64}
TIMEOUT=${BOOT_TIMEOUT:-120}

bail() { echo "Bail out! $*"; exit 1; }

# ---- what the test needs ----

command -v "$QEMU" >/dev/null 2>&1 || skip_all "$QEMU not installed (apt-get install qemu-system-x86)"
VIRTIOFSD=${FSBRIDGE_VIRTIOFSD:-}
for v in /usr/lib/qemu/virtiofsd /usr/libexec/virtiofsd; do
	[ -z "$VIRTIOFSD" ] && [ -x "$v" ] && VIRTIOFSD=$v
done
[ -n "$VIRTIOFSD" ] || skip_all "no virtiofsd (QEMU's /usr/lib/qemu/virtiofsd)"
[ "$(id -u)" = 0 ] || skip_all "QEMU's virtiofsd must run as root"

# The guest kernel: the newest /boot/vmlinuz-V with /lib/modules/V.
KVER=
for img in /boot/vmlinuz-*; do
	v=${img#/boot/vmlinuz-}
	[ -f "/lib/modules/$v/modules.dep" ] && KVER="$KVER$v"$'\n'
done
KVER=$(printf '%s' "$KVER" | sort -V | tail -n 1)
[ -n "$KVER" ] || skip_all "no guest kernel (/boot/vmlinuz-V with /lib/modules/V; apt-get install linux-image-cloud-amd64)"
KERNEL=/boot/vmlinuz-$KVER

[ -x "$MKI" ] || bail "$MKI not built"
[ -x "$PROBE" ] || bail "$PROBE not built"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsb-boot.XXXXXX") || bail "mktemp"
vfsd_pid=
cleanup() {
	[ -n "$vfsd_pid" ] && kill "$vfsd_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

show() { sed 's/^/# /' "$@"; }

echo "1..18"
echo "# kernel $KERNEL, $QEMU, $VIRTIOFSD"

# ---- the builder ----

check "--print-kernel picks $KERNEL" [ "$("$MKI" --print-kernel)" = "$KERNEL" ]

IMG=$tmp/guest.cpio.zst
if "$MKI" -k "$KVER" -a "$PROBE:/probe" -o "$IMG" 2>"$tmp/mki.err"; then
	ok "builds an image with the probe"
else
	not_ok "builds an image with the probe"
fi
show "$tmp/mki.err"

check "the image is zstd-compressed" \
	[ "$(od -An -tx1 -N4 "$IMG" 2>/dev/null | tr -d ' ')" = 28b52ffd ]

if command -v zstd >/dev/null && command -v cpio >/dev/null; then
	zstd -dc "$IMG" 2>/dev/null | cpio -it --quiet >"$tmp/list" 2>"$tmp/cpio.err"
	check "the archive lists /init, /dev/console, /etc/modules.order, the probe and virtiofs.ko" \
		bash -c 'for f in init dev/console etc/modules.order probe "lib/modules/'"$KVER"'/virtiofs.ko"; do
			grep -qxF "$f" "$1" || exit 1; done' _ "$tmp/list"
	zstd -dc "$IMG" 2>/dev/null | (cd "$tmp" && cpio -i --quiet --to-stdout etc/modules.order) >"$tmp/order"
	check "modules.order loads virtio_ring before virtiofs" \
		bash -c '[ "$(grep -n virtio_ring.ko "$1" | cut -d: -f1)" -lt "$(grep -n virtiofs.ko "$1" | cut -d: -f1)" ]' _ "$tmp/order"
else
	ok "# SKIP zstd or cpio not installed"
	ok "# SKIP zstd or cpio not installed"
fi

# ---- booting ----

# start_virtiofsd DIR SOCKET: serve DIR, wait for the socket.
start_virtiofsd() {
	"$VIRTIOFSD" --socket-path="$2" -o source="$1" -o cache=auto \
		-o sandbox=namespace >"$tmp/virtiofsd.log" 2>&1 &
	vfsd_pid=$!
	for _ in $(seq 100); do
		[ -S "$2" ] && return 0
		kill -0 "$vfsd_pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# stop_virtiofsd: it ends by itself when QEMU disconnects.
stop_virtiofsd() {
	for _ in $(seq 40); do
		kill -0 "$vfsd_pid" 2>/dev/null || break
		sleep 0.05
	done
	kill "$vfsd_pid" 2>/dev/null
	wait "$vfsd_pid" 2>/dev/null
	vfsd_pid=
}

# boot NAME QEMU-ARGS...: one boot with a fresh share; leaves
# $tmp/NAME.console, $tmp/NAME.share, $boot_rc and $boot_secs.
boot() {
	local name=$1 share=$tmp/$1.share sock=$tmp/$1.sock t0 t1
	shift
	mkdir "$share"
	echo "host-token-$RANDOM$RANDOM" >"$share/from-host.txt"
	boot_rc=1
	boot_secs=0
	if ! start_virtiofsd "$share" "$sock"; then
		show "$tmp/virtiofsd.log"
		return
	fi
	t0=$EPOCHREALTIME
	timeout "$TIMEOUT" "$QEMU" -accel tcg -cpu max -m 512 \
		-object memory-backend-memfd,id=mem,size=512M,share=on \
		-chardev socket,id=vfs,path="$sock" \
		-kernel "$KERNEL" -initrd "$IMG" \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial file:"$tmp/$name.console" "$@" \
		>"$tmp/$name.qemu" 2>&1
	boot_rc=$?
	t1=$EPOCHREALTIME
	boot_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	stop_virtiofsd
}

# check_boot NAME: the checks on one boot's results.
check_boot() {
	local name=$1 console=$tmp/$1.console share=$tmp/$1.share
	check "$name: QEMU exits by itself with status 0 (timeout ${TIMEOUT}s)" [ "$boot_rc" = 0 ]
	check "$name: the probe ran and printed its marker" grep -q '^fsbridge-probe: OK' "$console"
	check "$name: fsbridge-init reports exit 0" grep -q '^fsbridge-init: exit 0' "$console"
	check "$name: the host sees the file the guest wrote" \
		grep -qx 'written by the guest' "$share/from-guest.txt"
	check "$name: the guest read the host's file" \
		grep -qF "host says: $(cat "$share/from-host.txt")" "$console"
	echo "# $name: QEMU start to exit ${boot_secs} s;" \
		"$(grep -o 'running /probe, [0-9.]* s after boot' "$console" || echo 'probe never started')"
	if [ "$boot_rc" != 0 ] || ! grep -q '^fsbridge-init: exit 0' "$console"; then
		echo "# $name console:"; show "$console"
		echo "# $name qemu:"; show "$tmp/$name.qemu"
	fi
}

APPEND="console=ttyS0 quiet panic=-1 fsbridge.share=share:/mnt fsbridge.run=/probe"

boot pc -M pc -numa node,memdev=mem \
	-device vhost-user-fs-pci,chardev=vfs,tag=share \
	-append "$APPEND"
check_boot pc

# microvm: virtio-mmio devices (found through ACPI) must be non-legacy for
# virtiofsd; memory through memory-backend= (it has no NUMA).  It has no
# HPET or ACPI PM timer, and under TCG on a busy host the kernel's TSC
# calibration against the PIT fails and the boot hangs ("tsc: Marking TSC
# unstable"), so the guest is told the TSC rate: under TCG the guest TSC
# runs at the host's.
TSC_KHZ=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
MICROVM_APPEND=${TSC_KHZ:+tsc_early_khz=$TSC_KHZ }
boot microvm -M microvm,memory-backend=mem \
	-global virtio-mmio.force-legacy=false \
	-device vhost-user-fs-device,chardev=vfs,tag=share \
	-append "$MICROVM_APPEND$APPEND"
check_boot microvm

# A share no device serves: one clear error line, then power off.
t0=$EPOCHREALTIME
timeout "$TIMEOUT" "$QEMU" -M microvm -accel tcg -cpu max -m 256 \
	-kernel "$KERNEL" -initrd "$IMG" \
	-nodefaults -no-user-config -display none -no-reboot \
	-serial file:"$tmp/notag.console" \
	-append "${MICROVM_APPEND}console=ttyS0 quiet panic=-1 fsbridge.share=nosuch:/mnt fsbridge.run=/probe" \
	>"$tmp/notag.qemu" 2>&1
rc=$?
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
check "unknown tag: the guest powers off by itself" [ "$rc" = 0 ]
check "unknown tag: fsbridge-init prints one error line naming the tag" \
	grep -q "^fsbridge-init: error: mount virtio-fs tag 'nosuch' on /mnt" "$tmp/notag.console"
check "unknown tag: the program is not run" bash -c '! grep -q "^fsbridge-probe" "$1"' _ "$tmp/notag.console"
echo "# unknown tag: QEMU start to exit $secs s"
if [ "$rc" != 0 ]; then
	echo "# unknown tag console:"; show "$tmp/notag.console"
	echo "# unknown tag qemu:"; show "$tmp/notag.qemu"
else
	grep '^fsbridge-init' "$tmp/notag.console" | show
fi
