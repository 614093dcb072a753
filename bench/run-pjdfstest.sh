#!/bin/bash
# bench/run-pjdfstest.sh: run the pjdfstest POSIX conformance suite, as
# root, through `fsbridge mount -o specials=all,suid,allow_other` of a
# directory on the local disk (or, with --direct, in that directory itself,
# for reference).  Not part of `make check`: pjdfstest is not packaged, so
# bring a checkout and build it first as its README says (autoreconf -ifs,
# ./configure, make pjdfstest).
#
#   bench/run-pjdfstest.sh [--direct] [-o OPTS] [--log FILE] PJDFSTEST_DIR [TESTS...]
#
# TESTS are directories or files under PJDFSTEST_DIR/tests (default: all of
# them).  FSBRIDGE names the fsbridge binary (default: fsbridge on PATH);
# TMPDIR the local disk the source directory is made on (default /var/tmp).
# Prints prove's summary; the whole output goes to --log (default
# pjdfstest.log in the current directory).
set -u

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

direct=false opts=specials=all,suid,allow_other log=$PWD/pjdfstest.log
while [ $# -gt 0 ]; do
	case $1 in
	--direct) direct=true; shift ;;
	-o) opts=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) echo "run-pjdfstest.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 1 ]; then
	usage >&2
	exit 2
fi
pjd=$(cd "$1" && pwd) || exit 2
shift
if [ ! -x "$pjd/pjdfstest" ] || [ ! -d "$pjd/tests" ]; then
	echo "run-pjdfstest.sh: $pjd has no built pjdfstest (see its README)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "run-pjdfstest.sh: pjdfstest must run as root" >&2
	exit 1
fi
command -v prove >/dev/null || { echo "run-pjdfstest.sh: needs prove (perl)" >&2; exit 1; }
FSBRIDGE=${FSBRIDGE:-fsbridge}
tests=()
for t in "${@:-tests}"; do
	case $t in
	tests*) tests+=("$pjd/$t") ;;
	*) tests+=("$pjd/tests/$t") ;;
	esac
done

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/fsb-pjdfstest.XXXXXX") || exit 1
chmod 755 "$tmp"
mkdir "$tmp/src" "$tmp/mnt"
mnt=
trap '[ -n "$mnt" ] && "$FSBRIDGE" umount "$mnt" 2>/dev/null; rm -rf --one-file-system "$tmp"' EXIT
if $direct; then
	where=$tmp/src
	what="directly in $(df --output=fstype "$where" | tail -1) ($where)"
else
	"$FSBRIDGE" mount -o "$opts" "$tmp/src" "$tmp/mnt" || exit 1
	mnt=$tmp/mnt where=$tmp/mnt
	what="through fsbridge mount -o $opts of $(df --output=fstype "$tmp/src" | tail -1)"
fi
commit=$(git -C "$pjd" rev-parse HEAD 2>/dev/null || echo "(no git)")
{
	echo "# pjdfstest $commit, $what, $(uname -sr)"
	(cd "$where" && prove -r "${tests[@]}")
} >"$log" 2>&1
rc=$?
echo "pjdfstest $commit, $what:"
sed -n '/^Test Summary Report/,$p' "$log"
[ "$rc" = 0 ] && tail -n 3 "$log"
exit $rc
