#!/bin/bash
# run-guest.sh: the small-file workload inside one kind of QEMU guest
# (TCG here) against: fsbridge serve (cache=auto, auto with change hints as
# launch runs it, always), QEMU's C virtiofsd (cache=auto and cache=always)
# and an ext4 virtio-blk disk, one boot each, all in one run,
# printed as a Markdown table of µs/op with ratios.
#
#   bench/run-guest.sh [-n FILES] [-s BYTES] [-r ROUNDS] [-t "TARGET..."] [--requests]
#                      [--raw FILE]
#   (run from the build dir, as root; TARGETS: fsbridge fsbridge-hints
#   fsbridge-always virtiofsd-auto virtiofsd-always virtio-blk, all by
#   default; a column whose target was not run shows -; fsbridge-noxattr,
#   cache=auto with xattr=none as virtiofsd's default, only if asked).
#   --requests: the servers (fsbridge and virtiofsd) log every request
#   (slower) and the requests of each phase of the last round are counted
#   by opcode.
#   fsbridge-pollN (N microseconds, e.g. fsbridge-poll100): fsbridge auto
#   with `-o poll=N`; when any is given, a second table compares them with
#   fsbridge (poll=0 unless the default changes) per phase and in total.
#   --raw FILE: also write the medians there, one line per target and
#   phase: TARGET PHASE USEC_PER_OP (for bench/report.sh's plot).
set -u
FILES=2000
SIZE=1024
ROUNDS=1
REQUESTS=0
RAW=
TARGETS="fsbridge fsbridge-hints fsbridge-always virtiofsd-auto virtiofsd-always virtio-blk"
while [ $# -gt 0 ]; do
	case "$1" in
	-n) FILES=$2; shift 2 ;;
	-s) SIZE=$2; shift 2 ;;
	-r) ROUNDS=$2; shift 2 ;;
	-t) TARGETS=$2; shift 2 ;;
	--requests) REQUESTS=1; shift ;;
	--raw) RAW=$2; shift 2 ;;
	-h|--help) sed -n '2,21p' "$0"; exit 0 ;;
	*) echo "run-guest.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
B=${top_builddir:-$PWD}
FSB=${FSBRIDGE:-$B/fsbridge/fsbridge}
MKI=$B/guest-overlay/fsbridge-mkinitramfs
QEMU=${FSBRIDGE_QEMU:-qemu-system-x86_64}
VIRTIOFSD=/usr/lib/qemu/virtiofsd
KERNEL=$("$MKI" --print-kernel) || { echo "run-guest.sh: no guest kernel" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run-guest.sh: run as root (virtiofsd, mkfs)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/fsb-gbench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf --one-file-system "$tmp"' EXIT

# the guest program is built with the file count baked in: no shell, no
# argument passing in the guest
here=$(dirname "$0")
case "$FILES$SIZE" in *[!0-9]*) echo "run-guest.sh: -n and -s take numbers" >&2; exit 2 ;; esac
gcc -O2 -static -DFSB_GUEST_BENCH_FILES="$FILES" -DFSB_GUEST_BENCH_SIZE="$SIZE" -I"$B" -o "$tmp/guest_bench" \
	"$here/guest_bench.c" || exit 1
# shellcheck disable=SC2046
gcc -O2 -static -I"$B" -I"$here/.." $(pkg-config --cflags libbsd-overlay) -o "$tmp/smallfile" \
	"$here/smallfile.c" "$here/../guest-overlay/contract/fdio.c" \
	$(pkg-config --static --libs libbsd-overlay) || exit 1
"$MKI" -q -m ext4 -a "$tmp/guest_bench:/guest_bench" -a "$tmp/smallfile:/smallfile" \
	-o "$tmp/img.zst" || exit 1

wait_sock() { for _ in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done; return 1; }

# boot NAME [extra QEMU args...]: one guest; leaves $tmp/NAME.console
boot() {
	local name=$1
	shift
	timeout -s KILL 900 "$QEMU" -M pc -accel tcg -cpu max -m 1024 \
		-object memory-backend-memfd,id=mem,size=1024M,share=on -numa node,memdev=mem \
		-kernel "$KERNEL" -initrd "$tmp/img.zst" -nodefaults -no-user-config \
		-display none -no-reboot -serial file:"$tmp/$name.console" "$@" \
		-append "console=ttyS0 quiet panic=-1 fsbridge.run=/guest_bench $APPEND_SHARE" \
		> "$tmp/$name.qemu" 2>&1
}

# run_fsbridge NAME CACHE [SERVE-ARGS...]
run_fsbridge() {
	local name=$1 cache=$2
	shift 2
	mkdir -p "$tmp/fsb"; rm -f "$tmp/fsb.sock"
	[ "$REQUESTS" = 1 ] && set -- "$@" -o debug
	"$FSB" serve --socket "$tmp/fsb.sock" --once "$@" -o "cache=$cache" "$tmp/fsb" 2>"$tmp/$name.log" & pid=$!
	wait_sock "$tmp/fsb.sock"
	APPEND_SHARE="fsbridge.share=share:/mnt" boot "$name" \
		-chardev socket,id=vfs,path="$tmp/fsb.sock" -device vhost-user-fs-pci,chardev=vfs,tag=share
	wait $pid; pid=
}

run_virtiofsd() {
	local cache=$1
	mkdir -p "$tmp/vfsd"; rm -f "$tmp/vfsd.sock"
	local debug=()
	[ "$REQUESTS" = 1 ] && debug=(-d)
	"$VIRTIOFSD" --socket-path="$tmp/vfsd.sock" -o source="$tmp/vfsd" -o cache="$cache" \
		-o sandbox=namespace ${debug[@]+"${debug[@]}"} >"$tmp/virtiofsd-$cache.log" 2>&1 & pid=$!
	wait_sock "$tmp/vfsd.sock"
	APPEND_SHARE="fsbridge.share=share:/mnt" boot "virtiofsd-$cache" \
		-chardev socket,id=vfs,path="$tmp/vfsd.sock" -device vhost-user-fs-pci,chardev=vfs,tag=share
	wait $pid; pid=
}

run_blk() {
	truncate -s 1G "$tmp/disk.img"
	mkfs.ext4 -q -F "$tmp/disk.img"
	APPEND_SHARE="" boot virtio-blk -drive file="$tmp/disk.img",if=virtio,format=raw,cache=unsafe
}

for t in $TARGETS; do
	case " fsbridge fsbridge-hints fsbridge-always fsbridge-noxattr virtiofsd-auto virtiofsd-always virtio-blk " in
	*" $t "*) ;;
	*)
		case $t in
		fsbridge-poll*[!0-9]*|fsbridge-poll)
			echo "run-guest.sh: bad target $t (fsbridge-pollN: N microseconds)" >&2; exit 2 ;;
		fsbridge-poll*) ;;
		*) echo "run-guest.sh: unknown target $t (see --help)" >&2; exit 2 ;;
		esac ;;
	esac
done
run_target() {
	case "$1" in
	fsbridge) run_fsbridge fsbridge auto ;;
	# auto as launch runs it: with change hints, names and attributes are
	# cached long (nobody acts on the hints here: the tree is ours alone)
	fsbridge-hints) exec 3> /dev/null; run_fsbridge fsbridge-hints auto --hints-fd 3; exec 3>&- ;;
	fsbridge-always) run_fsbridge fsbridge-always always ;;
	fsbridge-noxattr) run_fsbridge fsbridge-noxattr auto -o xattr=none ;;
	fsbridge-poll*) run_fsbridge "$1" auto -o "poll=${1#fsbridge-poll}" ;;
	virtiofsd-auto) run_virtiofsd auto ;;
	virtiofsd-always) run_virtiofsd always ;;
	virtio-blk) run_blk ;;
	esac
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$ROUNDS"); do
	for t in $TARGETS; do
		run_target "$t"; mv "$tmp/$t.console" "$tmp/$t.$r"
	done
done

# median µs/op of PHASE for TARGET over the rounds
value() {
	cat "$tmp/$1".* 2>/dev/null | grep "^bench: {\"phase\":\"$2\"" |
		sed -E 's/.*"usec_per_op":([0-9.]+).*/\1/' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

echo "Guest small-file workload: $FILES files of $SIZE bytes in 20 dirs, TCG guest, median of $ROUNDS run(s)"
echo "Command: bench/run-guest.sh -n $FILES -s $SIZE -r $ROUNDS -t \"$TARGETS\"    ($(date -u +%F), $(nproc) cores, host $(uname -r), guest $(basename "$KERNEL"))"
echo "Load average (1, 5, 15 min): before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| phase | fsbridge auto µs/op | fsbridge auto + hints | fsbridge always | virtiofsd auto | virtiofsd always | virtio-blk ext4 | virtiofsd-auto / fsbridge-auto | virtiofsd-auto / fsbridge-hints | virtiofsd-always / fsbridge-always | fsbridge-always / virtio-blk |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for ph in create stat read readdir stat-warm read-warm unlink; do
	f=$(value fsbridge $ph); fh=$(value fsbridge-hints $ph); fa=$(value fsbridge-always $ph)
	va=$(value virtiofsd-auto $ph); vw=$(value virtiofsd-always $ph); b=$(value virtio-blk $ph)
	echo "| $ph | $f | $fh | $fa | $va | $vw | $b | $(ratio "$va" "$f") | $(ratio "$va" "$fh") | $(ratio "$vw" "$fa") | $(ratio "$fa" "$b") |"
done
case " $TARGETS " in
*" fsbridge-noxattr "*)
	# virtiofsd keeps xattrs off unless told (-o xattr): like for like
	echo
	echo "| phase | fsbridge auto xattr=none | virtiofsd auto | virtiofsd-auto / fsbridge-noxattr |"
	echo "| --- | ---: | ---: | ---: |"
	for ph in create stat read readdir stat-warm read-warm unlink; do
		f=$(value fsbridge-noxattr $ph); va=$(value virtiofsd-auto $ph)
		echo "| $ph | $f | $va | $(ratio "$va" "$f") |"
	done ;;
esac
if [ -n "$RAW" ]; then
	for t in $TARGETS; do
		for ph in create stat read readdir stat-warm read-warm unlink; do
			echo "$t $ph $(value "$t" $ph)"
		done
	done > "$RAW"
fi
# the poll targets against fsbridge auto (poll=0)
polls=$(for t in $TARGETS; do case $t in fsbridge-poll*) echo "$t" ;; esac; done)
total() { cat "$tmp/$1".* 2>/dev/null | grep '^bench: {' | sed -E 's/.*"total_usec":([0-9]+).*/\1/' | awk -v r="$ROUNDS" '{s+=$1} END {if (NR == 0) print "-"; else printf "%.0f", s/1e3/r}'; }
if [ -n "$polls" ]; then
	echo
	hdr="| phase | fsbridge auto µs/op |"; sep="| --- | ---: |"
	for t in $polls; do hdr="$hdr poll=${t#fsbridge-poll} |"; sep="$sep ---: |"; done
	for t in $polls; do hdr="$hdr poll=0 / poll=${t#fsbridge-poll} |"; sep="$sep ---: |"; done
	echo "$hdr"; echo "$sep"
	for ph in create stat read readdir stat-warm read-warm unlink; do
		f=$(value fsbridge $ph); line="| $ph | $f |"
		for t in $polls; do line="$line $(value "$t" $ph) |"; done
		for t in $polls; do line="$line $(ratio "$f" "$(value "$t" $ph)") |"; done
		echo "$line"
	done
	f=$(total fsbridge); line="| all phases, ms per round | $f |"
	for t in $polls; do line="$line $(total "$t") |"; done
	for t in $polls; do line="$line $(ratio "$f" "$(total "$t")") |"; done
	echo "$line"
fi
for t in $TARGETS; do
	tot=$(cat "$tmp/$t".* | grep '^bench: {' | sed -E 's/.*"total_usec":([0-9]+).*/\1/' | awk '{s+=$1} END {printf "%.2f", s/1e6}')
	echo "# $t: all phases together ${tot} s (summed over rounds)"
done
# --requests: the requests of each phase, between the STATFS marks
# smallfile --mark sends before each phase and after the last
if [ "$REQUESTS" = 1 ]; then
	for t in $TARGETS; do
		[ -s "$tmp/$t.log" ] || continue
		echo
		echo "Requests $t's server saw per phase (last round):"
		echo
		awk 'BEGIN { split("create stat read readdir stat-warm read-warm unlink", name, " ") }
			/unique: [0-9]+, opcode: [A-Z_]+ / {
				op = $0; sub(/.*opcode: /, "", op); sub(/ .*/, "", op)
				if (op == "STATFS") { ph++; next }
				if (ph >= 1 && ph <= 7) { n[ph]++; c[ph, op]++; ops[op] = 1 }
			}
			END {
				for (p = 1; p <= 7; p++) {
					line = ""
					for (op in ops) if (c[p, op] > 0) line = line " " op " " c[p, op]
					printf "| %s | %d |%s |\n", name[p], n[p], line
				}
			}' "$tmp/$t.log"
	done
fi
for t in $TARGETS; do
	grep -q '^bench: {"phase":"unlink"' "$tmp/$t".* || { echo "# $t did not finish; console:"; tail -5 "$tmp/$t".1 | sed 's/^/#   /'; }
done
