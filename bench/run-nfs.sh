#!/bin/bash
# run-nfs.sh: the small-file workload through fsbridge over NFS (libnfs to
# an NFS-Ganesha on loopback), straight through libnfs without FUSE
# (bench/nfs_direct: what an application using libnfs itself pays), through
# fsbridge over the exported directory itself (the local backend), and
# through the kernel's NFS client on the same export when it can mount
# here (its columns are left out, with a note, when it cannot), in one
# run.  Markdown table.
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
kernel=
printf '%s\n' "$out" | grep -q '^bench: kernel-nfs ' && kernel=1
echo "Small-file workload over NFS: $n files of 1 KiB in 20 dirs; $(date -u +%F), $(nproc) cores, $(uname -r)"
echo "Command: bench/run-nfs.sh $n; µs per operation (readdir: per directory)"
echo
if [ -n "$kernel" ]; then
	echo "| phase | fsbridge over NFS | libnfs direct | fsbridge local | kernel NFS client | NFS / libnfs direct | NFS / local | NFS / kernel NFS |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
else
	echo "| phase | fsbridge over NFS | libnfs direct | fsbridge local | NFS / libnfs direct | NFS / local |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: |"
fi
for ph in create stat read readdir stat-warm read-warm unlink; do
	a=$(value fsbridge-nfs $ph); d=$(value libnfs-direct $ph); l=$(value fsbridge-local $ph)
	if [ -n "$kernel" ]; then
		k=$(value kernel-nfs $ph)
		echo "| $ph | ${a:--} | ${d:--} | ${l:--} | ${k:--} | $(ratio "$a" "$d") | $(ratio "$a" "$l") | $(ratio "$a" "$k") |"
	else
		echo "| $ph | ${a:--} | ${d:--} | ${l:--} | $(ratio "$a" "$d") | $(ratio "$a" "$l") |"
	fi
done
[ -n "$kernel" ] || { echo; echo "(no kernel NFS client column: mount -t nfs4 failed here, e.g. no nfs module)"; }
