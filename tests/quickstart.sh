#!/bin/sh
# quickstart: set up a fresh Debian 12 machine (as root), build fsbridge,
# and either run it on a built-in example (demo) or run the whole test
# suite (check).  The README's two commands and .ci/run call this.
#
#   sh tests/quickstart.sh demo     install, build, mount an example tree
#   sh tests/quickstart.sh check    install, build, make check
set -eu

cd "$(dirname "$0")/.."
mode=${1:-demo}
case "$mode" in
demo|check) ;;
*) echo "usage: sh tests/quickstart.sh demo|check" >&2; exit 2 ;;
esac

# Debian packages: build tools, the five libraries, and what the tests
# and benchmarks run (fuse3 for fusermount3, attr for xattr tools,
# bindfs as the benchmark peer, util-linux for unshare, QEMU and a guest
# kernel for the guest tests, the guest kernel's headers for the fsb_notify
# module (linux-headers-cloud-amd64 tracks linux-image-cloud-amd64), clang's
# libFuzzer for the fuzz run, git (bench/run-pjdfstest.sh names the
# suite's commit), NFS-Ganesha as the NFS server of the NFS backend's
# tests, busybox for the --root test's small root tree, curl for the -p test, procps for pgrep/pkill, iproute2
# for ss and the network namespace of tests/launch/hide.sh, python3 for
# its listener and probe, passt for launch --net, gnuplot-nox for the
# plots of bench/report.sh).  tests/deps.sh (in make check) fails when a test or
# benchmark runs a program from a package that is neither here nor on
# every system.
PACKAGES="build-essential autoconf automake libtool pkg-config \
libfuse3-dev fuse3 libbsd-dev libzstd-dev libnfs-dev liburing-dev \
attr bindfs util-linux busybox curl procps iproute2 passt git python3 \
qemu-system-x86 linux-image-cloud-amd64 linux-headers-cloud-amd64 zstd cpio clang libclang-rt-14-dev nfs-ganesha nfs-ganesha-vfs e2fsprogs gnuplot-nox"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "quickstart: missing Debian packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "quickstart: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true
# QEMU loads the guest kernel as the user who runs launch; some kernel
# packages install it readable by root only (README: "Without root")
if [ "$(id -u)" -eq 0 ]; then
	for k in /boot/vmlinuz-*; do
		if [ -f "$k" ]; then chmod a+r "$k"; fi
	done
	# The headers metapackage follows the archive's newest kernel; an
	# image installed earlier may be older: get the headers of the
	# kernel the guest boots (the newest one with modules), by its ABI.
	kver=$(ls -d /lib/modules/*/modules.dep 2>/dev/null | sed 's|^/lib/modules/||; s|/modules.dep$||' | sort -V | tail -n 1)
	if [ -n "$kver" ] && [ ! -f "/lib/modules/$kver/build/Makefile" ]; then
		echo "quickstart: installing linux-headers-$kver"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"linux-headers-$kver" >/dev/null ||
			echo "quickstart: no linux-headers-$kver: the fsb_notify test will skip" >&2
	fi
fi

./autogen.sh >/dev/null
mkdir -p _build
cd _build
../configure --enable-werror -q
make -s -j"$(nproc)"

if [ "$mode" = check ]; then
	status=0
	make -s -j"$(nproc)" check || status=$?
	# the release tarball builds, installs and passes a quick check from
	# a read-only source tree (the full suite has just run above)
	dist_failed=0
	if ! make -s distcheck TESTS="tests/unit/policy_test tests/mount/raw_request" > distcheck.log 2>&1; then
		echo "make distcheck failed; see _build/distcheck.log:" >&2
		tail -20 distcheck.log >&2
		dist_failed=1
		status=1
	fi
	# one closing line for CI: N passed, N failed, N skipped (skips and
	# expected failures, each with its reason in the test's log)
	if [ -f test-suite.log ]; then
		awk -v d="$dist_failed" '/^# PASS:/{p=$3} /^# FAIL:/{f+=$3} /^# ERROR:/{f+=$3} /^# XPASS:/{f+=$3}
		     /^# SKIP:/{s+=$3} /^# XFAIL:/{s+=$3}
		     END {printf "%d passed, %d failed, %d skipped\n", p + (d ? 0 : 1), f + d, s}' test-suite.log
	else
		echo "0 passed, 1 failed"
		status=1
	fi
	exit "$status"
fi

# demo: mount a small example tree with a deny policy, show it, unmount.
demo=$(mktemp -d)
trap 'fusermount3 -u -z "$demo/mnt" 2>/dev/null; rm -rf "$demo"' EXIT
mkdir -p "$demo/src/project/src" "$demo/mnt"
echo 'console.log("hello from fsbridge")' > "$demo/src/project/src/index.js"
echo '{ "name": "example" }' > "$demo/src/project/package.json"
ln -s /etc/passwd "$demo/src/project/escape-link"
ln -s src/index.js "$demo/src/project/main.js"
./fsbridge/fsbridge mount -o symlinks=deny "$demo/src" "$demo/mnt"
echo "== mounted $demo/src at $demo/mnt with -o symlinks=deny"
echo "== ls -l mnt/project  (escape-link -> /etc/passwd is hidden, main.js stays)"
ls -l "$demo/mnt/project"
echo "== cat mnt/project/main.js"
cat "$demo/mnt/project/main.js"
echo "== ln -s /etc mnt/project/x  (refused under deny)"
ln -s /etc "$demo/mnt/project/x" || true
./fsbridge/fsbridge umount "$demo/mnt"
echo "== unmounted; demo done"
