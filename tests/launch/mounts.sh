#!/bin/bash
# mounts.sh: `launch --mount HOST:GUEST[:ro|rw][:symlinks=POLICY]`: usage
# errors (no VM), the QEMU argv and serve options (a fake QEMU), then one
# real TCG VM: a rw mount writes through to the host, a ro one gives EROFS,
# symlinks=deny hides a link to /etc, a running VM refuses other mounts.
# TAP.
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/launch.sh"

launch_suite mounts
mkdir -p "$tmp/proj/.git" "$tmp/rw" "$tmp/ro" "$tmp/links" "$tmp/a:b"
echo hello > "$tmp/ro/file"
ln -s /etc "$tmp/links/etc"
echo plain > "$tmp/links/plain"
cd "$tmp/proj" || exit 1

# ---- usage errors: one line, exit 2, nothing started ----
for spec in "$tmp/nope:/x" "$tmp/rw:rel" "$tmp/rw" "$tmp/rw:/x:bogus" \
    "$tmp/rw:/x:symlinks=maybe" ":/x" "$tmp/rw:/"; do
	L --mount "$spec" -- true 2> "$tmp/err"; rc=$?
	check "--mount $spec: exit 2, one launch: line (got $rc)" \
		bash -c '[ "$1" = 2 ] && [ "$(wc -l < "$2")" = 1 ] && grep -q "^launch: --mount" "$2"' _ "$rc" "$tmp/err"
done
# a writable share whose links the server follows: the guest could make
# esc -> / and walk the host (issue #12)
for spec in "$tmp/rw:/x:symlinks=follow" "$tmp/rw:/x:rw:symlinks=follow" "$tmp/rw:/x:symlinks=follow:rw"; do
	L --mount "$spec" -- true 2> "$tmp/err"; rc=$?
	check "--mount $spec: refused, exit 2, one line naming :ro (got $rc)" \
		bash -c '[ "$1" = 2 ] && [ "$(wc -l < "$2")" = 1 ] && grep -q "^launch: --mount.*needs :ro" "$2"' _ "$rc" "$tmp/err"
done
L --mount "$tmp/rw:/x" --mount "$tmp/ro:/x/" -- true 2> "$tmp/err"; rc=$?
check "two --mount at one GUEST: exit 2, one line naming the first (got $rc)" \
	bash -c '[ "$1" = 2 ] && [ "$(wc -l < "$2")" = 1 ] && grep -q "/x is already the place of .*/rw:/x" "$2"' _ "$rc" "$tmp/err"
L --mount "$tmp/rw:/x" --volume "fsbmountsvol:/x" -- true 2> "$tmp/err"; rc=$?
check "a --volume at a --mount's GUEST: exit 2 (got $rc)" \
	bash -c '[ "$1" = 2 ] && grep -q "already the place of" "$2"' _ "$rc" "$tmp/err"
L status >/dev/null; rc=$?
check "... and no VM was started (status $rc)" [ "$rc" = 3 ]

# ---- the QEMU argv, from a fake QEMU that records it and fails ----
fake=$tmp/fake-qemu
printf '#!/bin/sh\nprintf "%%s\\n" "$@" > "%s"\nexit 1\n' "$tmp/argv" > "$fake"
chmod +x "$fake"
# --cold: the booted machine's argv (a warm start hot-plugs the shares)
"$LAUNCH" --state "$tmp/fstate" --qemu "$fake" --accel tcg --cold --mount "$tmp/rw:/mnt/rw" \
	--mount "$tmp/ro:/mnt/ro:ro:symlinks=deny" --mount "$tmp/a\\:b:/mnt/colon:ro" -- true 2> "$tmp/err"; rc=$?
check "a failed boot with mounts: 125 (got $rc)" [ "$rc" = 125 ]
check "... one vhost-user-fs device per mount (m0, m1)" bash -c \
	'grep -q "vhost-user-fs-pci,chardev=m0,tag=m0" "$1" && grep -q "vhost-user-fs-pci,chardev=m1,tag=m1" "$1"' _ "$tmp/argv"
check "... fsbridge-init mounts them, m1 read-only" bash -c \
	'grep -q "fsbridge.share=m0:/fsb/m0:rw fsbridge.share=m1:/fsb/m1:ro" "$1"' _ "$tmp/argv"
check "... the servers got ro,symlinks=deny" grep -qF "serving $tmp/ro (ro,symlinks=deny) at /mnt/ro" "$tmp/fstate/log"
check "... a HOST with an escaped colon (a\\:b) is served as $tmp/a:b" grep -qF "serving $tmp/a:b (ro) at /mnt/colon" "$tmp/fstate/log"
check "... no server left running" bash -c '! pgrep -f "fsbridge serve --socket $1/" >/dev/null' _ "$tmp/fstate"
# FSBRIDGE_WARM=0 is --cold; without it a VM starts warm (the machine of
# the saved state: no share in its argv, QMP to hot-plug them)
FSBRIDGE_WARM=0 "$LAUNCH" --state "$tmp/fstate" --qemu "$fake" --accel tcg \
	--mount "$tmp/rw:/mnt/rw" -- true 2> /dev/null
check "FSBRIDGE_WARM=0: the booted machine, shares in its argv" \
	bash -c 'grep -q "tag=m0" "$1" && ! grep -qx -- -qmp "$1"' _ "$tmp/argv"
"$LAUNCH" --state "$tmp/fstate" --qemu "$fake" --accel tcg --mount "$tmp/rw:/mnt/rw" -- true 2> /dev/null
check "the default is warm: no share in the argv, a QMP socket" \
	bash -c '! grep -q "vhost-user-fs" "$1" && grep -qx -- -qmp "$1"' _ "$tmp/argv"

command -v "$QEMU" >/dev/null 2>&1 || { echo "1..$n # real VM skipped: no $QEMU"; exit 0; }
"$B/guest-overlay/fsbridge-mkinitramfs" --print-kernel >/dev/null 2>&1 ||
	{ echo "1..$n # real VM skipped: no guest kernel"; exit 0; }

# ---- one real VM ----
L -q --mount "$tmp/rw:/mnt/rw" --mount "$tmp/ro:/mnt/ro:ro" \
	--mount "$tmp/links:/mnt/links:symlinks=deny" -- sh -c 'echo from-guest > /mnt/rw/out'; rc=$?
check "boot with three mounts, write under the rw one (got $rc)" [ "$rc" = 0 ]
check "... the file appears on the host" bash -c '[ "$(cat "$1")" = from-guest ]' _ "$tmp/rw/out"
out=$(L -- cat /mnt/ro/file 2>&1)
check "the ro mount is readable (got '$out')" [ "$out" = hello ]
out=$(L -- sh -c 'echo x > /mnt/ro/new' 2>&1); rc=$?
check "... and refuses writes with EROFS (got $rc: $out)" \
	bash -c '[ "$1" != 0 ] && [[ "$2" == *"Read-only file system"* ]] && ! [ -e "$3" ]' _ "$rc" "$out" "$tmp/ro/new"
out=$(L -- sh -c 'ls /mnt/links; test -e /mnt/links/etc/passwd && echo LEAK' 2>&1)
check "symlinks=deny hides the link to /etc (got '$(echo $out)')" \
	bash -c '[[ "$1" == *plain* ]] && [[ "$1" != *etc* ]] && [[ "$1" != *LEAK* ]]' _ "$out"
L --mount "$tmp/rw:/elsewhere" -- true 2> "$tmp/err"; rc=$?
check "a running VM refuses other mounts (got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "launch halt" "$2" && [ "$(wc -l < "$2")" = 1 ]' _ "$rc" "$tmp/err"
L --mount "$tmp/rw:/mnt/rw" --mount "$tmp/ro:/mnt/ro:ro" \
	--mount "$tmp/links:/mnt/links:symlinks=deny" -- true; rc=$?
check "... and accepts the same ones (got $rc)" [ "$rc" = 0 ]
L -q halt; rc=$?
check "halt (got $rc)" [ "$rc" = 0 ]

# ---- eight mounts on a restored VM (warm start: ten shares hot-plugged,
# packed as functions of two PCI slots) ----
margs=()
for i in 0 1 2 3 4 5 6 7; do
	mkdir -p "$tmp/k$i" && echo "id$i" > "$tmp/k$i/id"
	margs+=(--mount "$tmp/k$i:/mnt/k$i")
done
before=$(wc -l < "$state/log")
out=$(L "${margs[@]}" -- sh -c 'cat /mnt/k*/id | tr "\n" " "' < /dev/null 2> "$tmp/err"); rc=$?
check "eight mounts: every one is seen (got $rc: '$out')" \
	[ "$out" = "id0 id1 id2 id3 id4 id5 id6 id7 " ]
sed 's/^/# stderr: /' "$tmp/err"
check "... on a VM restored from the state the first boot saved" \
	bash -c 'tail -n +"$(( $2 + 1 ))" "$1" | grep -q "restored saved state default"' _ "$state/log" "$before"
L -q halt
echo "1..$n"
