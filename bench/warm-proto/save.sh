#!/bin/sh
# save.sh: boot the machine with NO vhost-user-fs device and guest RAM in
# $STATE/mem (a file, share=on), wait until warm-agent answers, then
# migrate to $STATE/vmstate with x-ignore-shared (RAM stays in the file,
# the stream holds only device state) and quit.  Writes $STATE/header.
. "$(dirname "$0")/common.sh"
rm -rf "$STATE" && mkdir -p "$STATE"
t0=$(ms)
IFS='
'
# shellcheck disable=SC2046
$QEMU $(machine_argv "$STATE/mem.tmp" on "$STATE") 2>"$STATE/qemu.log" &
unset IFS
qpid=$!
"$WARMCTL" agent "$STATE/agent.sock" UPTIME
t1=$(ms)
echo "boot to agent: $((t1 - t0)) ms"
# the agent connection is closed again: the state is saved with no host on the port
"$WARMCTL" ${V:-} qmp "$STATE/qmp.sock" \
    '{"execute":"migrate-set-capabilities","arguments":{"capabilities":[{"capability":"x-ignore-shared","state":true}]}}' \
    '{"execute":"stop"}' \
    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > $STATE/vmstate.tmp\"}}" \
    WAITMIG '{"execute":"quit"}' >/dev/null
wait $qpid || true
t2=$(ms)
echo "save: $((t2 - t1)) ms"
sync -f "$STATE/mem.tmp"
mv "$STATE/vmstate.tmp" "$STATE/vmstate"
mv "$STATE/mem.tmp" "$STATE/mem"
{
	echo "fsbridge-warm 1"
	echo "qemu $($QEMU --version | head -1)"
	echo "kernel $KERNEL $(stat -c %s:%Y "$KERNEL")"
	echo "initrd $(sha256sum < "$OUT/initrd.zst" | cut -d' ' -f1)"
	echo "machine $(machine_argv MEM SHARE RUN | tr '\n' ' ')"
	echo "vmstate $(stat -c %s "$STATE/vmstate") $(sha256sum < "$STATE/vmstate" | cut -d' ' -f1)"
	echo "mem $(stat -c %s "$STATE/mem") $(du -k "$STATE/mem" | cut -f1)K $(b3=$(sha256sum < "$STATE/mem"); echo "${b3%% *}")"
} > "$STATE/header.tmp"
mv "$STATE/header.tmp" "$STATE/header"
t3=$(ms)
echo "header (hashes): $((t3 - t2)) ms"
cat "$STATE/header"
ls -ls "$STATE"
