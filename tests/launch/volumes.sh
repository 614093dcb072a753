#!/bin/bash
# volumes.sh: `launch volume ls|create|rm|export|import` (no VM), the
# QEMU argv of --volume, --net and -p (a fake QEMU records it), and one
# real TCG VM with a volume: mounted where asked, its contents kept across
# halt and the next boot, a running VM refusing other volumes.  TAP.
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/launch.sh"

launch_suite volumes
more_states=$tmp/state2
export FSBRIDGE_VOLUME_DIR=$tmp/vols
mkdir -p "$tmp/proj/.git"
cd "$tmp/proj" || exit 1

# ---- volume objects ----
L volume create data 64M; rc=$?
check "volume create data 64M (got $rc)" [ "$rc" = 0 ]
check "... a sparse 64 MiB file in the volume dir" \
	bash -c '[ "$(stat -c %s "$1")" = 67108864 ] && [ "$(stat -c %b "$1")" -lt 64 ]' _ "$tmp/vols/data.img"
out=$(L volume ls)
check "volume ls lists it (got '$out')" bash -c '[[ "$1" == data*64M* ]]' _ "$out"
L volume create data 64M 2> "$tmp/err"; rc=$?
check "create again: 125 and a message (got $rc)" bash -c '[ "$1" = 125 ] && grep -q "already exists" "$2"' _ "$rc" "$tmp/err"
L volume create 'a/b' 1M 2> "$tmp/err"; rc=$?
check "a bad name is refused (got $rc)" [ "$rc" = 125 ]
L volume create x 12Q 2> "$tmp/err"; rc=$?
check "a bad size is a usage error (got $rc)" [ "$rc" = 2 ]
# some data at 1 MiB and 40 MiB, holes elsewhere
printf 'first' | dd of="$tmp/vols/data.img" bs=1M seek=1 conv=notrunc status=none
head -c 100000 /dev/urandom > "$tmp/r"
dd if="$tmp/r" of="$tmp/vols/data.img" bs=1M seek=40 conv=notrunc status=none
L volume export data "$tmp/data.zst"; rc=$?
check "volume export (got $rc)" [ "$rc" = 0 ]
check "... a zstd file" bash -c 'command -v zstd >/dev/null || exit 0; zstd -tq "$1"' _ "$tmp/data.zst"
L volume import copy "$tmp/data.zst"; rc=$?
check "volume import as copy (got $rc)" [ "$rc" = 0 ]
check "... byte-identical" cmp -s "$tmp/vols/data.img" "$tmp/vols/copy.img"
blocks=$(stat -c %b "$tmp/vols/copy.img")
check "... and sparse ($blocks blocks allocated)" [ "$blocks" -lt 1024 ]
L volume import copy "$tmp/data.zst" 2> "$tmp/err"; rc=$?
check "import over an existing volume is refused (got $rc)" bash -c '[ "$1" = 125 ] && grep -q "already exists" "$2"' _ "$rc" "$tmp/err"
echo garbage > "$tmp/bad.zst"
L volume import bad "$tmp/bad.zst" 2> "$tmp/err"; rc=$?
check "import of a non-zstd file fails, leaving nothing (got $rc)" \
	bash -c '[ "$1" = 125 ] && [ ! -e "$2" ]' _ "$rc" "$tmp/vols/bad.img"
# ---- import bounds what it writes; export never clobbers ----
# a stream that declares no size: refused without --size, cut at --size
head -c 8M /dev/zero | tr '\0' a | zstd -q -c > "$tmp/bomb.zst"
L volume import bomb "$tmp/bomb.zst" 2> "$tmp/err"; rc=$?
check "import of a stream declaring no size needs --size (got $rc: $(head -c 200 "$tmp/err"))" \
	bash -c '[ "$1" = 125 ] && grep -q -- "--size" "$2" && [ ! -e "$3" ]' _ "$rc" "$tmp/err" "$tmp/vols/bomb.img"
L volume import --size 1M bomb "$tmp/bomb.zst" 2> "$tmp/err"; rc=$?
check "... with --size 1M an 8 MiB stream is refused, leaving nothing (got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "larger than --size" "$2" && [ ! -e "$3" ]' _ "$rc" "$tmp/err" "$tmp/vols/bomb.img"
L volume import bomb "$tmp/bomb.zst" --size 8M; rc=$?
check "... and accepted with --size 8M after the words (got $rc)" \
	bash -c '[ "$1" = 0 ] && [ "$(stat -c %s "$2")" = 8388608 ]' _ "$rc" "$tmp/vols/bomb.img"
L volume rm bomb
check "export declares the image size in the stream" \
	bash -c 'zstd -lv "$1" 2>/dev/null | grep -q "Decompressed Size:.*67108864"' _ "$tmp/data.zst"
L volume import --size 1M big "$tmp/data.zst" 2> "$tmp/err"; rc=$?
check "import of a stream declaring 64 MiB with --size 1M is refused at once (got $rc)" \
	bash -c '[ "$1" = 125 ] && [ ! -e "$2" ]' _ "$rc" "$tmp/vols/big.img"
check "the export is mode 0600" [ "$(stat -c %a "$tmp/data.zst")" = 600 ]
echo keep > "$tmp/victim"
ln -s "$tmp/victim" "$tmp/planted.zst"
L volume export copy "$tmp/planted.zst" 2> "$tmp/err"; rc=$?
check "export onto a planted symlink is refused, its target untouched (got $rc)" \
	bash -c '[ "$1" = 125 ] && [ "$(cat "$2")" = keep ]' _ "$rc" "$tmp/victim"
L volume export copy "$tmp/data.zst" 2> "$tmp/err"; rc=$?
check "export onto an existing file is refused (got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "already exists" "$2"' _ "$rc" "$tmp/err"

L volume rm copy; rc=$?
check "volume rm (got $rc)" bash -c '[ "$1" = 0 ] && [ ! -e "$2" ]' _ "$rc" "$tmp/vols/copy.img"
L volume rm copy 2> "$tmp/err"; rc=$?
check "rm of a missing volume: 125 (got $rc)" [ "$rc" = 125 ]
L volume rm data

# ---- option syntax ----
for bad in 'nocolon' 'v:relative' 'v:/' 'v:/x:12Q' 'toolongname_123456789:/x'; do
	L --volume "$bad" -- true < /dev/null 2> "$tmp/err"; rc=$?
	check "--volume $bad is a usage error (got $rc)" bash -c '[ "$1" = 2 ] && grep -q "^launch: --volume" "$2"' _ "$rc" "$tmp/err"
done
L -p 80 -- true < /dev/null 2> /dev/null; rc=$?
check "-p 80 is a usage error (got $rc)" [ "$rc" = 2 ]

# ---- the QEMU command line, from a fake QEMU that records it ----
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /sbin/mkfs.ext4 ] ||
	{ echo "1..$n"; exit 0; }
cat > "$tmp/fakeqemu" <<EOS
#!/bin/sh
printf '%s\n' "\$@" > "$tmp/argv"
exit 1
EOS
chmod +x "$tmp/fakeqemu"
# --cold: the booted machine's argv (a warm start hot-plugs the volumes
# and the network)
"$LAUNCH" --state "$tmp/fake" --qemu "$tmp/fakeqemu" --cold --volume fv:/cache:16M --net \
	-p 18080:80 -p 18022:22 boot > /dev/null 2>&1; rc=$?
check "a QEMU that exits fails the boot (got $rc)" [ "$rc" != 0 ]
check "--volume: -drive with the image, raw" grep -q "^file=$tmp/vols/fv.img,if=none,id=v0,format=raw" "$tmp/argv"
check "--volume: virtio-blk-pci with serial=NAME" grep -qx 'virtio-blk-pci,drive=v0,serial=fv' "$tmp/argv"
check "--net: a stream netdev on passt's socket" \
	grep -qx "stream,id=n0,server=off,addr.type=unix,addr.path=$tmp/fake/net.sock" "$tmp/argv"
check "-p: passt forwards from the host's loopback only, gateway not mapped" \
	bash -c 'grep -q "network: passt --no-map-gw" "$1" && grep -q "forward 127.0.0.1:18080:80" "$1" && grep -q "forward 127.0.0.1:18022:22" "$1"' _ "$tmp/fake/log"
check "--net: virtio-net-pci" grep -qx 'virtio-net-pci,netdev=n0' "$tmp/argv"
check "the volume was created and formatted ext4 on first use" \
	bash -c 'od -An -tx1 -j1080 -N2 "$1" | grep -q "53 ef"' _ "$tmp/vols/fv.img"
"$LAUNCH" --state "$tmp/fake" --qemu "$tmp/fakeqemu" --cold boot > /dev/null 2>&1
check "no --net: no network device" bash -c '! grep -q netdev "$1"' _ "$tmp/argv"

# ---- a real VM ----
if ! command -v "$QEMU" >/dev/null 2>&1 ||
   ! "$B/guest-overlay/fsbridge-mkinitramfs" --print-kernel >/dev/null 2>&1; then
	echo "# no QEMU or guest kernel: skipping the VM tests"
	echo "1..$n"
	exit 0
fi
L --volume cache:/fsb-cache:256M -- sh -c 'echo kept > /fsb-cache/f && grep " /fsb-cache " /proc/mounts' \
	< /dev/null > "$tmp/o" 2> "$tmp/e"; rc=$?
check "launch --volume boots and writes to the volume (got $rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { sed 's/^/# /' "$tmp/e"; tail -20 "$state/console" | sed 's/^/# console: /'; }
check "... mounted ext4 at /fsb-cache" grep -q '^/dev/vd[a-z]* /fsb-cache ext4' "$tmp/o"
L --volume other:/x -- true < /dev/null 2> "$tmp/err"; rc=$?
check "a running VM refuses other volumes (got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "halt" "$2"' _ "$rc" "$tmp/err"
L -- cat /fsb-cache/f < /dev/null > /dev/null; rc=$?
check "a command without --volume still runs there (got $rc)" [ "$rc" = 0 ]
L --isolated -- sh -c 'echo from-isolated > /fsb-cache/iso' < /dev/null
out=$(L -- cat /fsb-cache/iso < /dev/null)
check "an --isolated command writes through to the volume (got '$out')" [ "$out" = from-isolated ]
L volume rm cache 2> "$tmp/err"; rc=$?
check "volume rm of a volume in use: 125 (got $rc)" bash -c '[ "$1" = 125 ] && grep -q "in use" "$2" && [ -e "$3" ]' _ "$rc" "$tmp/err" "$tmp/vols/cache.img"
L volume export cache "$tmp/c.zst" 2> "$tmp/err"; rc=$?
check "volume export of a volume in use: 125 (got $rc)" bash -c '[ "$1" = 125 ] && grep -q "in use" "$2"' _ "$rc" "$tmp/err"
"$LAUNCH" --state "$tmp/state2" --volume cache:/c -- true < /dev/null 2> "$tmp/err"; rc=$?
check "a second VM cannot attach it: 125 (got $rc)" bash -c '[ "$1" = 125 ] && grep -q "in use by another" "$2"' _ "$rc" "$tmp/err"
L -- sleep 4242 < /dev/null > /dev/null 2>&1 &
sleeper=$!
for _ in $(seq 50); do
	L ps > "$tmp/ps" 2> "$tmp/ps.err"; rc=$?
	grep -q 'sleep 4242' "$tmp/ps" && break
	sleep 0.1
done
check "launch ps exits 0 (got $rc)" [ "$rc" = 0 ]
check "... with a header" grep -q '^  PID S COMMAND$' "$tmp/ps"
check "... listing a running guest command with its pid and state" grep -Eq '^ *[0-9]+ [A-Z] sleep 4242$' "$tmp/ps"
check "... and the agent" grep -q 'fsbridge-agent' "$tmp/ps"
kill "$sleeper" 2>/dev/null; wait "$sleeper" 2>/dev/null
L -q halt
port=$((20000 + RANDOM % 30000))
before=$(wc -l < "$state/log")
out=$(L -p $port:8000 --volume cache:/fsb-cache -- cat /fsb-cache/f < /dev/null 2>&1)
check "the volume's contents survive halt and the next start (got '$out')" [ "$out" = kept ]
check "... a VM restored from the state the first boot saved, volume and network hot-plugged" \
	bash -c 'tail -n +"$(( $2 + 1 ))" "$1" | grep -q "restored saved state default"' _ "$state/log" "$before"
out=$(L -- sh -c 'cat /proc/net/route; cat /sys/class/net/eth0/operstate' < /dev/null 2>&1)
check "--net: eth0 up with a default route via 10.0.2.2" \
	bash -c '[[ "$1" == *"eth0	00000000	0202000A"* ]]' _ "$out"
L -p 18123:80 -- true < /dev/null 2> "$tmp/err"; rc=$?
check "a running VM refuses a different -p (got $rc)" bash -c '[ "$1" = 125 ] && grep -q "network is .on $2:8000., not .on 18123:80." "$3"' _ "$rc" "$port" "$tmp/err"
L -p $port:8000 -- true < /dev/null; rc=$?
check "... and accepts the same -p (got $rc)" [ "$rc" = 0 ]
if command -v python3 > /dev/null && command -v curl > /dev/null; then
	echo "served from the guest" > "$tmp/proj/hello.txt"
	L -- python3 -m http.server --bind 0.0.0.0 8000 < /dev/null > /dev/null 2>&1 &
	server=$!
	got=
	for _ in $(seq 100); do
		got=$(curl -s --max-time 2 "http://127.0.0.1:$port/hello.txt") && [ -n "$got" ] && break
		sleep 0.2
	done
	check "-p $port:8000: a guest TCP server answers on the host's 127.0.0.1:$port (got '$got')" \
		[ "$got" = "served from the guest" ]
	kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null   # (INT is ignored in a background job)
fi
L -q halt
L ps > "$tmp/ps" 2>&1; rc=$?
check "launch ps with no VM: 3, and no boot (got $rc)" bash -c '[ "$1" = 3 ] && grep -q "not running" "$2" && [ ! -S "$3/ctl.sock" ]' _ "$rc" "$tmp/ps" "$state"
out=$(L volume ls)
check "volume ls shows cache" bash -c '[[ "$1" == *cache*256M* ]]' _ "$out"
L -q halt
echo "1..$n"
