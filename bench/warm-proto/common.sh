# common.sh: shared settings of the warm-start prototype (sourced).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$TOP/_build}
OUT=${WARM_OUT:-/tmp/warm-proto}        # binaries + initramfs
STATE=${WARM_STATE:-$OUT/state}         # the saved state: mem, vmstate, header
RUN=${WARM_RUN:-$OUT/run}               # one restored VM: sockets, mem copy, logs
QEMU=${QEMU:-qemu-system-x86_64}
KERNEL=${KERNEL:-$(ls /boot/vmlinuz-*cloud* | sort -V | tail -1)}
CPUS=${CPUS:-2}
MEM=${MEM:-1024}
WARMCTL="$OUT/warmctl"

ms() { date +%s%3N; }

# The machine, identical on save and restore (the migration stream names
# devices by their place: same -M, same devices in the same order).
# $1: mem path, $2: share=on|off, $3: run dir (sockets, console)
machine_argv() {
	printf '%s\n' -M pc -accel tcg -cpu max -smp "$CPUS" -m "$MEM" \
	    -object "memory-backend-file,id=mem,size=${MEM}M,mem-path=$1,share=$2" \
	    -numa node,memdev=mem \
	    -device virtio-serial-pci \
	    -chardev "socket,id=agent,path=$3/agent.sock,server=on,wait=off" \
	    -device virtserialport,chardev=agent,name=fsbridge.agent \
	    -kernel "$KERNEL" -initrd "$OUT/initrd.zst" \
	    -nodefaults -no-user-config -display none -no-reboot \
	    -chardev "file,id=console,path=$3/console" -serial chardev:console \
	    -qmp "unix:$3/qmp.sock,server=on,wait=off" \
	    -append "console=ttyS0 quiet panic=-1 ${APPEND_EXTRA:-}fsbridge.run=/warm-agent"
}
