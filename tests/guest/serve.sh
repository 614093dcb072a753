#!/bin/bash
# serve.sh: fsbridge serve as the virtio-fs backend of a real QEMU guest
# (TCG).  One guest runs the POSIX comparison and the attacks inside
# (tests/guest/guest_suite); the host checks that what it sees is right
# and that nothing outside the share changed.  Then a guest is killed in
# the middle of writing (once 200 writes are acknowledged): the server
# survives, the host file holds what
# was acknowledged, and the next guest is served.  TAP, plan at the end.
#
# As root, or as an ordinary user (serve-user.sh): then the server acts as
# that user, the guest's root mapped to it (uidmap=0:UID,gidmap=0:GID, as a
# guest of launch is the user), and where the host kernel wants root the
# expectations are the user's (/guest_suite-user, and the host's check of
# the setuid files): no chown to other ids (CAP_CHOWN), and the server's
# write clears the setuid bit even for the guest's root (CAP_FSETID).
set -u

. "$(dirname "$0")/../lib/tap.sh"

B=${top_builddir:-.}
QEMU=${FSBRIDGE_QEMU:-qemu-system-x86_64}
FSB=${FSBRIDGE:-$B/fsbridge/fsbridge}
MKI=$B/guest-overlay/fsbridge-mkinitramfs
command -v "$QEMU" >/dev/null 2>&1 || skip_all "$QEMU not installed (apt-get install qemu-system-x86)"
KERNEL=$("$MKI" --print-kernel 2>/dev/null) || skip_all "no guest kernel (apt-get install linux-image-cloud-amd64)"

SUITE=/guest_suite
IDMAP=()
KEPT_MODE=4755		# keep-root after the guest's root wrote to it
if [ "$(id -u)" != 0 ]; then
	SUITE=/guest_suite-user
	IDMAP=(-o "uidmap=0:$(id -u),gidmap=0:$(id -g)")
	KEPT_MODE=755
fi

tmp=$(mktemp -d /tmp/fsb-serve.XXXXXX)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf --one-file-system "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/top/share" "$tmp/top/outside"
echo "secret" > "$tmp/top/outside/secret"
# setuid/setgid files only the host can make (guest_suite's suid_writes)
for f in kill-write:6777 kill-trunc:4777 keep-sgid:2766 keep-root:4755; do
	echo a > "$tmp/top/share/${f%%:*}" && chmod "${f#*:}" "$tmp/top/share/${f%%:*}"
done
before=$(cd "$tmp/top" && find . -path ./share -prune -o -print0 | sort -z | xargs -0 ls -ld --time-style=+%s 2>/dev/null | md5sum)

img=$tmp/img.zst
if "$MKI" -q -a "$B/tests/guest/guest_suite:/guest_suite" \
	-a "$B/tests/guest/guest_suite:/guest_suite-user" \
	-a "$B/tests/guest/posix_compare_static:/posix_compare" \
	-a "$B/tests/guest/guest_suite:/writer" \
	-a "$B/tests/guest/guest_suite:/watcher" \
	-a "$B/tests/guest/guest_suite:/watcher4" \
	-a "$B/tests/guest/guest_suite:/watcher-own" \
	-a "$B/tests/guest/guest_suite:/idle" \
	-a "$B/tests/guest/probe:/probe" -o "$img" 2> "$tmp/mki.err"; then
	ok "guest image with the suite"
else
	not_ok "guest image with the suite"; sed 's/^/# /' "$tmp/mki.err"
fi

start_server() {
	rm -f "$tmp/sock"
	"$FSB" serve --socket "$tmp/sock" ${IDMAP[@]+"${IDMAP[@]}"} "$@" "$tmp/top/share" 2>> "$tmp/serve.log" &
	srv=$!
	for _ in $(seq 100); do [ -S "$tmp/sock" ] && return 0; sleep 0.05; done
	return 1
}

# boot LOG RUN [TIMEOUT]: one guest on the running server
boot() {
	timeout -s KILL "${3:-600}" "$QEMU" -M pc -accel tcg -cpu max -m 1024 \
		-object memory-backend-memfd,id=mem,size=1024M,share=on -numa node,memdev=mem \
		-chardev socket,id=vfs,path="$tmp/sock" -device vhost-user-fs-pci,chardev=vfs,tag=share \
		-kernel "$KERNEL" -initrd "$img" -nodefaults -no-user-config -display none -no-reboot \
		-serial file:"$1" -append "console=ttyS0 quiet panic=-1 fsbridge.share=share:/mnt fsbridge.run=$2" \
		> "$1.qemu" 2>&1
}

check "fsbridge serve listens" start_server
t0=$EPOCHREALTIME
boot "$tmp/suite.console" "$SUITE"
rc=$?
echo "# guest suite: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
check "the guest ran the suite and powered off (exit $rc)" [ "$rc" = 0 ]
check "the suite finished" grep -q '^guest-suite: done' "$tmp/suite.console"
while IFS= read -r line; do
	desc=$(printf '%s\n' "$line" | sed -E 's/^guest-tap: (not )?ok [0-9]* ?- ?//')
	case "$line" in
	"guest-tap: ok "*) ok "[guest] $desc" ;;
	"guest-tap: not ok "*) not_ok "[guest] $desc" ;;
	esac
done < "$tmp/suite.console"
grep -q '^guest-suite: done' "$tmp/suite.console" || sed 's/^/# /' "$tmp/suite.console" | tail -30

# the host's view of what the guest did
share=$tmp/top/share
check "[host] the guest's setuid file has no setuid/setgid bit" \
	bash -c '[ -f "$1" ] && [ -z "$(find "$1" -perm /6000)" ]' _ "$share/suid"
check "[host] the unprivileged write and truncate cleared setuid/setgid (root's write: $KEPT_MODE)" \
	[ "$(stat -c %a "$share/kill-write" "$share/kill-trunc" "$share/keep-sgid" "$share/keep-root" | tr '\n' ' ')" = "777 777 2766 $KEPT_MODE " ]
check "[host] no device node was created" [ ! -e "$share/dev-null" ]
check "[host] symlinks are stored verbatim" [ "$(readlink "$share/abs-link")" = /etc/passwd ]
check "[host] the POSIX run left its files in the share" [ -d "$share/posix" ]
after=$(cd "$tmp/top" && find . -path ./share -prune -o -print0 | sort -z | xargs -0 ls -ld --time-style=+%s 2>/dev/null | md5sum)
check "[host] nothing outside the share changed" [ "$before" = "$after" ]
check "[host] the server is still running" kill -0 "$srv"

# a guest killed in the middle: the server survives and serves the next
# (killed once it has had 200 writes acknowledged, however slow the boot)
: > "$tmp/killed.console"
(boot "$tmp/killed.console" /writer 600) 2>/dev/null &
qemu_bg=$!
for _ in $(seq 1200); do
	grep -q '^writer: acked 200[^0-9]' "$tmp/killed.console" && break
	kill -0 "$qemu_bg" 2>/dev/null || break
	sleep 0.1
done
pkill -KILL -f -- "-serial file:$tmp/killed.console"
wait "$qemu_bg"
rc=$?
check "[kill] a guest killed (SIGKILL) while it writes (exit $rc)" [ "$rc" = 137 ]
[ "$rc" = 137 ] || { sed 's/^/# /' "$tmp/killed.console.qemu"; tail -5 "$tmp/killed.console" | sed 's/^/# /'; }
acked=$(grep -o '^writer: acked [0-9]*' "$tmp/killed.console" | tail -1 | awk '{print $3}')
echo "# the guest had $acked lines acknowledged (fsync) when it was killed"
check "[kill] the guest got writes acknowledged before it died" [ "${acked:-0}" -gt 0 ]
check "[kill] every acknowledged line is on the host, in order, intact" \
	awk -v acked="${acked:-0}" '$0 != "line " NR { if (NR <= acked) bad = 1; exit }
		END { if (bad || NR < acked) exit 1 }' "$share/writer.log"
check "[kill] the server survives a killed guest" kill -0 "$srv"
echo "host-token" > "$share/from-host.txt"
boot "$tmp/probe.console" /probe 120
check "[kill] the next guest is served" grep -q '^fsbridge-probe: OK' "$tmp/probe.console"
check "[kill] its write reached the host" grep -qx 'written by the guest' "$share/from-guest.txt"
# a host change reaches a running guest (no notifications: the guest asks
# again after the fallback timeout, and an open finds the new data)
echo before > "$share/change.txt"
: > "$tmp/watch.console"
boot "$tmp/watch.console" /watcher 120 &
qemu_bg=$!
for _ in $(seq 600); do grep -q '^watcher: ready' "$tmp/watch.console" && break; sleep 0.1; done
t0=$EPOCHREALTIME
echo changed > "$share/change.txt.tmp" && mv "$share/change.txt.tmp" "$share/change.txt"
wait "$qemu_bg"
seen=$(grep -o 'seen after [0-9]* ms' "$tmp/watch.console")
echo "# host change seen by the guest: ${seen:-never}"
check "[consistency] a host edit (write + rename) is seen by the running guest within 2 s" \
	bash -c '[ -n "$1" ] && [ "$(echo "$1" | awk "{print \$3}")" -le 2000 ]' _ "$seen"

# the same with names and attributes cached for 60 s: a file replaced on
# the host is answered ESTALE, so the guest's next open walks the path
# again at once instead of opening the old file until the entry expires
kill "$srv"; wait "$srv"
start_server -o revalidate=60
echo before > "$share/change.txt"
: > "$tmp/watch60.console"
boot "$tmp/watch60.console" /watcher 120 &
qemu_bg=$!
for _ in $(seq 600); do grep -q '^watcher: ready' "$tmp/watch60.console" && break; sleep 0.1; done
echo changed > "$share/change.txt.tmp" && mv "$share/change.txt.tmp" "$share/change.txt"
wait "$qemu_bg"
seen=$(grep -o 'seen after [0-9]* ms' "$tmp/watch60.console")
echo "# with revalidate=60, host replacement seen by the guest: ${seen:-never}"
check "[consistency] revalidate=60: a file replaced on the host is seen by the next open (ESTALE, no 60 s wait)" \
	bash -c '[ -n "$1" ] && [ "$(echo "$1" | awk "{print \$3}")" -le 10000 ]' _ "$seen"

# still with attributes cached for 60 s: the guest wrote the file itself
# (its pages are kept for the next open while nobody else writes); a
# same-size in-place edit on the host is seen at the next open anyway
# (OPEN compares mtime and size with what the guest's write left)
: > "$tmp/watchown.console"
boot "$tmp/watchown.console" /watcher-own 120 &
qemu_bg=$!
for _ in $(seq 600); do grep -q '^watcher: ready' "$tmp/watchown.console" && break; sleep 0.1; done
printf 'after!\n' | dd of="$share/change.txt" conv=notrunc status=none
wait "$qemu_bg"
seen=$(grep -o 'seen after [0-9]* ms' "$tmp/watchown.console")
echo "# host same-size edit of a file the guest wrote: ${seen:-never}"
check "[consistency] a same-size host edit of a file the guest wrote is seen by the next open (revalidate=60)" \
	bash -c '[ -n "$1" ] && [ "$(echo "$1" | awk "{print \$3}")" -le 2000 ]' _ "$seen"

# --hints-fd: the server watches the share and writes what changed on the
# host (for launch's agent); the guest itself then caches names and
# attributes long: an in-place edit is in the hints, and a guest that
# nobody makes look again does not see it within 4 s
kill "$srv"; wait "$srv"
exec 3> "$tmp/hints"
start_server --hints-fd 3
exec 3>&-
echo before > "$share/change.txt"
: > "$tmp/hinted.console"
boot "$tmp/hinted.console" /watcher4 120 &
qemu_bg=$!
for _ in $(seq 600); do grep -q '^watcher: ready' "$tmp/hinted.console" && break; sleep 0.1; done
echo changed > "$share/change.txt"
wait "$qemu_bg"
check "[hints] an in-place host edit is written to --hints-fd as a modify of change.txt" \
	bash -c 'tr "\\0" "\\n" < "$1" | grep -Eqx "M0[0-9a-f]{8}change.txt"' _ "$tmp/hints"
check "[hints] with hints the guest caches long: unseen without the agent after 4 s" \
	grep -q '^watcher: not seen within 4 s' "$tmp/hinted.console"

# -o poll: the request queue polls its ring for 200 µs after each batch,
# then sleeps: a connected guest that sends nothing costs no CPU
kill "$srv"; wait "$srv"
start_server -o poll=200
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
: > "$tmp/idle.console"
boot "$tmp/idle.console" /idle 120 &
qemu_bg=$!
for _ in $(seq 600); do grep -q '^idle: start' "$tmp/idle.console" && break; sleep 0.1; done
sleep 0.5
c0=$(cpu_ticks "$srv")
sleep 2
c1=$(cpu_ticks "$srv")
used=$((c1 - c0))
wait "$qemu_bg"
check "[poll] poll=200: the guest was served (its share mounted)" grep -q '^guest-tap: ok .*idle: the share is there' "$tmp/idle.console"
echo "# poll=200: the server used $used clock ticks of CPU in 2 idle seconds (a tick is 1/$(getconf CLK_TCK) s)"
check "[poll] poll=200: no CPU spent while the guest is idle (< 0.1 s in 2 s)" \
	[ $((used * 10)) -lt "$(getconf CLK_TCK)" ]

kill "$srv"; wait "$srv"; rc=$?
srv=
check "[serve] SIGTERM stops the server cleanly (exit $rc)" [ "$rc" = 0 ]
check "[serve] the socket is removed" [ ! -e "$tmp/sock" ]
grep -i 'error\|fatal' "$tmp/serve.log" | sed 's/^/# server: /' | head -5

echo "1..$n"
exit 0
