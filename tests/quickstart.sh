#!/bin/sh
# quickstart: set up a fresh Debian 12 machine (as root), build fsbridge,
# and either run it on a built-in example (demo) or run the whole test
# suite (check).  The README's two commands and .ci/run call this.
#
#   sh tests/quickstart.sh demo     install, build, run an example project under
#                                   a policy mount and in a QEMU guest
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
attr bindfs util-linux busybox curl procps iproute2 passt git python3 nodejs \
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
	# name what failed, with the end of its log, just above the closing
	# line (CI keeps only the end of the output)
	if [ -f test-suite.log ]; then
		for trs in $(find tests -name '*.trs' 2>/dev/null | sort); do
			grep -Eq '^:test-result: (FAIL|ERROR|XPASS)' "$trs" || continue
			log=${trs%.trs}.log
			echo "---- failed: ${trs%.trs} (last lines of _build/$log)"
			grep -E '^(not ok|Bail out)' "$log" 2>/dev/null | head -5
			tail -n 15 "$log" 2>/dev/null
		done
		failed=$(grep -lE '^:test-result: (FAIL|ERROR|XPASS)' $(find tests -name '*.trs') 2>/dev/null |
			sed 's/\.trs$//' | tr '\n' ' ')
		if [ -n "$failed" ]; then echo "---- failed tests: $failed"; fi
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

# demo: the example project under a policy-enforcing mount, then the same
# project in a QEMU guest.  Whatever happens, the guest is halted, the
# mount unmounted and the temporary directory removed (the trap).
B=$PWD
demo=$(mktemp -d /tmp/fsb-demo.XXXXXX)
running=""
demo_end() {
	status=$?
	trap - EXIT INT TERM
	cd /
	if [ -n "$running" ]; then
		kill "$running" 2>/dev/null || true
		wait "$running" 2>/dev/null || true
	fi
	if [ -d "$demo/vm" ]; then
		"$B/launcher/launch" -q --state "$demo/vm" halt >/dev/null 2>&1 ||
			"$B/launcher/launch" -q --state "$demo/vm" halt -f >/dev/null 2>&1 || true
	fi
	if grep -qs " $demo/mnt " /proc/mounts; then
		"$B/fsbridge/fsbridge" umount "$demo/mnt" 2>/dev/null || fusermount3 -u -z "$demo/mnt" 2>/dev/null || true
	fi
	rm -rf --one-file-system "$demo"
	if [ "$status" -ne 0 ]; then
		echo "quickstart: the demo failed (status $status); nothing of it is left running" >&2
	fi
	exit "$status"
}
trap demo_end EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# a long step runs in the background so that a signal runs the trap at
# once; the trap ends it (by its pid) before halting the guest
step() {
	rc=0
	"$@" &
	running=$!
	wait "$running" || rc=$?
	running=""
	return "$rc"
}

p=$demo/src/project
mkdir -p "$p/src" "$demo/mnt"
echo 'console.log("hello from fsbridge")' > "$p/src/index.js"
echo '{ "name": "example" }' > "$p/package.json"
ln -s /etc/passwd "$p/escape-link"
ln -s src/index.js "$p/main.js"
printf '# for a tree whose links must not lead out\nsymlinks = deny\nspecials = none\n' > "$demo/untrusted.policy"

echo "== 1. fsbridge mount -o policy=untrusted.policy  (symlinks=deny, specials=none)"
"$B/fsbridge/fsbridge" policy check "$demo/untrusted.policy" >/dev/null
"$B/fsbridge/fsbridge" mount -o policy="$demo/untrusted.policy" "$demo/src" "$demo/mnt"
echo "   host:  $(cd "$p" && echo *)"
echo "   mount: $(cd "$demo/mnt/project" && echo *)   (escape-link -> /etc/passwd hidden)"
echo "   cat mnt/project/main.js: $(cat "$demo/mnt/project/main.js")"
# what the policy refuses: say so with the error, fail if it was allowed
refused() {
	what=$1
	shift
	if "$@" 2>"$demo/err"; then
		echo "   $what: allowed, but the policy forbids it" >&2
		return 1
	fi
	echo "   $what: refused ($(sed 's/.*: //' "$demo/err"))"
}
refused "ln -s /etc mnt/project/x" ln -s /etc "$demo/mnt/project/x"
refused "mkfifo mnt/project/f" mkfifo "$demo/mnt/project/f"
"$B/fsbridge/fsbridge" umount "$demo/mnt"

echo "== 2. launch: the project in a QEMU guest (TCG: emulated, no KVM needed)"
echo "   booting; the first boot builds the guest image, about 5-30 s ..."
t0=$(date +%s)
step "$B/launcher/launch" -q --state "$demo/vm" --project "$p" boot
echo "   booted in $(($(date +%s) - t0)) s"
# shellcheck disable=SC2016
cd "$p"
step "$B/launcher/launch" --state "$demo/vm" -T -n -- sh -c '
	echo "   [guest] $(uname -sr), uid $(id -u), in $PWD"
	echo "   [guest] ls: $(echo *)"
	echo "written in the guest by uid $(id -u)" > from-guest.txt
	echo "   [guest] wrote from-guest.txt in the project"
	echo demo > /etc/fsbridge-demo && echo "   [guest] wrote /etc/fsbridge-demo (outside the project)"'
echo "   host: from-guest.txt, owner uid $(stat -c %u "$p/from-guest.txt"): $(cat "$p/from-guest.txt")"
if [ -e /etc/fsbridge-demo ]; then
	echo "   host: /etc/fsbridge-demo exists" >&2
	exit 1
fi
echo "   host: no /etc/fsbridge-demo (the guest's root is the host's, read-only under a throw-away overlay)"
"$B/launcher/launch" -q --state "$demo/vm" halt
echo "== guest halted, mount gone, temporary files removed; demo done"
