#!/bin/sh
# qemu_handshake: a real QEMU (vhost-user-fs-pci) connects to our device and
# completes the start-up part of the vhost-user handshake.  No guest kernel
# is needed: QEMU talks to the back-end while it realizes the device (-S
# keeps the machine paused).  Skipped when QEMU is not installed.
set -u

qemu=${FSBRIDGE_QEMU:-qemu-system-x86_64}
server=${top_builddir:-.}/tests/vhost/vu_echo_server
if ! command -v "$qemu" >/dev/null 2>&1; then
	echo "1..0 # SKIP $qemu not installed"
	exit 0
fi
dir=$(mktemp -d)
trap 'kill "$spid" 2>/dev/null; rm -rf "$dir"' EXIT
"$server" "$dir/fs.sock" 2 >"$dir/server.log" 2>&1 &
spid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do
	[ -S "$dir/fs.sock" ] && break
	sleep 0.2
done
timeout 10 "$qemu" -M pc -accel tcg -m 64 -S -nodefaults -display none \
	-object memory-backend-memfd,id=mem,size=64M,share=on -numa node,memdev=mem \
	-chardev socket,id=c,path="$dir/fs.sock" \
	-device vhost-user-fs-pci,chardev=c,tag=test,num-request-queues=2 \
	-monitor none -serial none >"$dir/qemu.log" 2>&1 &
qpid=$!
# QEMU sends the ring call/err fds last; then it idles, paused
for _ in $(seq 1 50); do
	grep -q 'SET_VRING_ERR 0x2' "$dir/server.log" && break
	sleep 0.2
done
kill "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null
for _ in 1 2 3 4 5 6 7 8 9 10; do
	grep -q 'front-end disconnected' "$dir/server.log" && break
	sleep 0.2
done
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
sed 's/^/# /' "$dir/server.log" "$dir/qemu.log"

n=0
check() {
	n=$((n + 1))
	if grep -q "$1" "$dir/server.log"; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
check 'SET_PROTOCOL_FEATURES 0x8009' "QEMU acks protocol features MQ, REPLY_ACK, CONFIGURE_MEM_SLOTS"
check 'GET_QUEUE_NUM' "QEMU asks for the queue count"
check 'SET_OWNER' "QEMU sends SET_OWNER"
check 'SET_VRING_ERR 0x2' "QEMU sets up the call/err fds of all 3 queues"
n=$((n + 1))
if grep -q 'refused' "$dir/server.log"; then echo "not ok $n - no message refused"; else echo "ok $n - no message refused"; fi
check 'front-end disconnected' "QEMU's exit is seen as a disconnect"
echo "1..$n"
