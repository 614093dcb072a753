#!/bin/bash
# run-nfs.sh: the small-file workload through fsbridge over NFS (libnfs to
# an NFS-Ganesha on loopback), through the kernel's NFS client on the same
# export when it can mount here, and through fsbridge over the exported
# directory itself (the local backend), in one run.  Markdown table.
#
#   bench/run-nfs.sh [FILES]      (from the build dir, as root; default 2000)
set -u
n=${1:-2000}
B=${top_builddir:-$PWD}
here=$(cd "$(dirname "$0")" && pwd)
out=$(NFS_BENCH_FILES=$n FSBRIDGE=${FSBRIDGE:-$B/fsbridge/fsbridge} top_builddir=$B \
	top_srcdir="$here/.." bash "$here/../tests/nfs/nfs.sh" 2>/dev/null)
case "$out" in *"SKIP"*) echo "$out"; exit 1 ;; esac
value() {	# value TARGET PHASE
	printf '%s\n' "$out" | grep "^bench: $1 " | grep -o "{\"phase\":\"$2\"[^}]*}" |
		sed -E 's/.*"usec_per_op":([0-9.]+).*/\1/'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
echo "Small-file workload over NFS: $n files of 1 KiB in 20 dirs; $(date -u +%F), $(nproc) cores, $(uname -r)"
echo "Command: bench/run-nfs.sh $n"
echo
echo "| phase | fsbridge over NFS µs/op | kernel NFS client | fsbridge local | NFS / local | NFS / kernel NFS |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for ph in create stat read readdir stat-warm read-warm unlink; do
	a=$(value fsbridge-nfs $ph); k=$(value kernel-nfs $ph); l=$(value fsbridge-local $ph)
	echo "| $ph | ${a:--} | ${k:--} | ${l:--} | $(ratio "$a" "$l") | $(ratio "$a" "$k") |"
done
