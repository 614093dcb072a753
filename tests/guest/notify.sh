#!/bin/bash
# tests/guest/notify.sh: the fsb_notify guest module (guest-overlay/kmod)
# in a real guest.  Builds the module against the guest kernel's headers
# (guest-overlay/kmod/build.sh), adds it to an image with
# fsbridge-mkinitramfs --add-module, and boots it (QEMU, TCG, -M pc) with
# a virtio-fs share served by fsbridge serve.  tests/guest/notify_probe
# runs inside: every change done for real on tmpfs and described to
# /dev/fsb_notify on an untouched tree (tmpfs and virtio-fs) must give an
# inotify watcher the same events; then bad records, names the guest
# never looked up, a flood (IN_Q_OVERFLOW), the overflow record, and
# latencies (printed as TAP comments).  Skips without QEMU, a guest
# kernel, or its headers (linux-headers-VERSION).  TAP, plan at the end.
#
# By hand: top_builddir=BUILD top_srcdir=SRC bash tests/guest/notify.sh
set -u

. "$(dirname "$0")/../lib/tap.sh"

B=${top_builddir:-.}
S=${top_srcdir:-$(dirname "$0")/../..}
QEMU=${FSBRIDGE_QEMU:-qemu-system-x86_64}
FSB=${FSBRIDGE:-$B/fsbridge/fsbridge}
MKI=$B/guest-overlay/fsbridge-mkinitramfs
PROBE=$B/tests/guest/notify_probe
TIMEOUT=${BOOT_TIMEOUT:-300}

command -v "$QEMU" >/dev/null 2>&1 || skip_all "$QEMU not installed (apt-get install qemu-system-x86)"
KERNEL=$("$MKI" --print-kernel 2>/dev/null) || skip_all "no guest kernel (apt-get install linux-image-cloud-amd64)"
KVER=${KERNEL#*/vmlinuz-}
[ -x "$PROBE" ] || { echo "Bail out! $PROBE not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsb-notify.XXXXXX") || exit 1
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf --one-file-system "$tmp"; }
trap cleanup EXIT

"$S/guest-overlay/kmod/build.sh" "$KVER" "$tmp/kmod" >"$tmp/ko" 2>"$tmp/kmod.err"
rc=$?
[ "$rc" = 77 ] && skip_all "$(head -n 1 "$tmp/kmod.err")"
if [ "$rc" != 0 ]; then
	not_ok "fsb_notify builds against kernel $KVER's headers"
	sed 's/^/# /' "$tmp/kmod.err"
	echo "1..$n"
	exit 1
fi
ok "fsb_notify builds against kernel $KVER's headers"
KO=$(cat "$tmp/ko")

img=$tmp/img.zst
"$MKI" -q -k "$KVER" --add-module "$KO" -a "$PROBE:/notify_probe" -o "$img" 2>"$tmp/mki.err"
check "an image with the module and the probe" [ $? = 0 ]
if command -v zstd >/dev/null && command -v cpio >/dev/null; then
	zstd -dc "$img" | (mkdir "$tmp/x" && cd "$tmp/x" && cpio -id --quiet etc/modules.order 2>/dev/null)
	check "fsb_notify.ko is the last module loaded" \
		[ "$(tail -n 1 "$tmp/x/etc/modules.order")" = "/lib/modules/$KVER/fsb_notify.ko" ]
fi

# The share: a marker, and a file and a directory the guest never looks up.
mkdir -p "$tmp/share/host-dir"
: >"$tmp/share/.fsb-share"
echo host >"$tmp/share/host-only"
"$FSB" serve --socket "$tmp/sock" "$tmp/share" 2>"$tmp/serve.log" &
srv=$!
for _ in $(seq 100); do [ -S "$tmp/sock" ] && break; sleep 0.05; done
check "fsbridge serve listens" [ -S "$tmp/sock" ]

t0=$EPOCHREALTIME
timeout -s KILL "$TIMEOUT" "$QEMU" -M pc -accel tcg -cpu max -m 512 \
	-object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem \
	-chardev socket,id=vfs,path="$tmp/sock" -device vhost-user-fs-pci,chardev=vfs,tag=share \
	-kernel "$KERNEL" -initrd "$img" -nodefaults -no-user-config -display none -no-reboot \
	-serial file:"$tmp/console" \
	-append "console=ttyS0 quiet panic=-1 fsbridge.share=share:/mnt fsbridge.run=/notify_probe" \
	>"$tmp/qemu.log" 2>&1
rc=$?
echo "# guest: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s, QEMU start to exit"
check "the guest ran the probe and powered off (exit $rc)" [ "$rc" = 0 ]
check "the probe finished" grep -q '^notify-probe: done' "$tmp/console"
while IFS= read -r line; do
	case "$line" in
	"notify-tap: ok - "*) ok "[guest] ${line#notify-tap: ok - }" ;;
	"notify-tap: not ok - "*) not_ok "[guest] ${line#notify-tap: not ok - }" ;;
	"notify-lat: "*) echo "# ${line#notify-lat: }" ;;
	"notify-probe: "*) echo "# ${line#notify-probe: }" ;;
	esac
done <"$tmp/console"
if ! grep -q '^notify-probe: done' "$tmp/console"; then
	sed 's/^/# console: /' "$tmp/console" | tail -40
	sed 's/^/# qemu: /' "$tmp/qemu.log"
fi
check "the host file the guest raised events for is untouched" \
	[ "$(cat "$tmp/share/host-only")" = host ]
echo "1..$n"
