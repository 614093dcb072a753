#!/bin/sh
# restore.sh [CMD]: start the file servers and a QEMU that loads $STATE
# (-incoming defer, x-ignore-shared, RAM mapped from a file), hot-plug the
# root (read-only /) and project ($PROJ) shares as vhost-user-fs-pci, and
# have warm-agent set the clock, reseed, mount both and run CMD (default
# /bin/true) chrooted in the root share.  Leaves the VM running unless
# KEEP= is empty... (KEEP=1 keeps it; default: quit at the end).
#   MEMMODE=copy     (default) sparse copy of $STATE/mem into $RUN, share=on
#   MEMMODE=inplace  $STATE/mem itself, share=on: the state is used up
#   MEMMODE=prepared $STATE/mem.next (copied ahead, after the previous restore) moved in
#   MEMMODE=private  $STATE/mem, share=off (MAP_PRIVATE): see README, vhost breaks
. "$(dirname "$0")/common.sh"
PROJ=${PROJ:-$OUT/proj}
MEMMODE=${MEMMODE:-copy}
CMD=${1:-/bin/true}
rm -rf "$RUN" && mkdir -p "$RUN" "$PROJ"
t0=$(ms)
# the header is written last by save.sh: no header, no state; a vmstate
# that is not the one saved is refused (QEMU may hang or load it silently)
want=$(sed -n 's/^vmstate [0-9]* //p' "$STATE/header")
if [ -z "${VMSTATE:-}" ] && [ "$(sha256sum < "$STATE/vmstate" | cut -d' ' -f1)" != "$want" ]; then
	echo "restore: $STATE/vmstate does not match its header: boot cold" >&2
	exit 1
fi
"$BUILD/fsbridge/fsbridge" serve --socket "$RUN/root.sock" -o ro,symlinks=opaque / 2>>"$RUN/serve.log" &
s1=$!
"$BUILD/fsbridge/fsbridge" serve --socket "$RUN/proj.sock" "$PROJ" 2>>"$RUN/serve.log" &
s2=$!
case $MEMMODE in
copy)	cp --sparse=always "$STATE/mem" "$RUN/mem"; mem=$RUN/mem; share=on ;;
inplace) mem=$STATE/mem; share=on ;;
prepared) # a copy made ahead (after the previous restore, off the critical path)
	[ -f "$STATE/mem.next" ] || cp --sparse=always "$STATE/mem" "$STATE/mem.next"
	mv "$STATE/mem.next" "$RUN/mem"; mem=$RUN/mem; share=on
	(cp --sparse=always "$STATE/mem" "$STATE/mem.next.tmp" && mv "$STATE/mem.next.tmp" "$STATE/mem.next") &
	;;
private) mem=$STATE/mem; share=off ;;
esac
t1=$(ms)
IFS='
'
# shellcheck disable=SC2046
$QEMU $(machine_argv "$mem" $share "$RUN") -incoming defer 2>"$RUN/qemu.log" &
qpid=$!
unset IFS
sock() { printf '{"execute":"chardev-add","arguments":{"id":"%s","backend":{"type":"socket","data":{"addr":{"type":"unix","data":{"path":"%s"}},"server":false}}}}' "$1" "$2"; }
fsdev() { printf '{"execute":"device_add","arguments":{"driver":"vhost-user-fs-pci","id":"fs-%s","chardev":"%s","tag":"%s"}}' "$1" "$1" "$1"; }
"$WARMCTL" ${V:-} qmp "$RUN/qmp.sock" \
    '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"x-ignore-shared","state":true}]}}' \
    "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"exec:cat ${VMSTATE:-$STATE/vmstate}\"}}" \
    WAITMIG \
    "$(sock root "$RUN/root.sock")" "$(fsdev root)" \
    "$(sock proj "$RUN/proj.sock")" "$(fsdev proj)" '{"execute":"cont"}' >/dev/null
t2=$(ms)
"$WARMCTL" ${V:-} agent "$RUN/agent.sock" \
    "TIME $(date +%s) 0" "SEED $(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
    "MOUNT root /fsb/root ro" "MOUNT proj /fsb/proj rw" \
    "CAT /fsb/proj/hello.txt" "RUN /fsb/root $CMD" ${EXTRA:-}
t3=$(ms)
echo "prepare (servers, mem $MEMMODE): $((t1 - t0)) ms; qemu+incoming+hotplug: $((t2 - t1)) ms; agent (mount, run): $((t3 - t2)) ms; total $((t3 - t0)) ms"
if [ -n "${KEEP:-}" ]; then
	echo "qemu pid $qpid, servers $s1 $s2 (left running)"
	exit 0
fi
"$WARMCTL" qmp "$RUN/qmp.sock" '{"execute":"quit"}' >/dev/null || true
wait $qpid || true
kill $s1 $s2 2>/dev/null || true
wait $s1 $s2 2>/dev/null || true
