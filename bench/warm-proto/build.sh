#!/bin/sh
# build.sh: warmctl (host), warm-agent (static, guest) and the guest image
# (fsbridge-mkinitramfs from $BUILD, with /warm-agent added) into $OUT.
. "$(dirname "$0")/common.sh"
mkdir -p "$OUT"
cc -O2 -Wall -Wextra -o "$OUT/warmctl" "$HERE/warmctl.c"
cc -O2 -Wall -Wextra -static -o "$OUT/warm-agent" "$HERE/warm-agent.c"
"$BUILD/guest-overlay/fsbridge-mkinitramfs" -q --kernel "$KERNEL" -m ext4 -m virtio_net \
    -a "$OUT/warm-agent:/warm-agent" -o "$OUT/initrd.zst"
ls -l "$OUT"
