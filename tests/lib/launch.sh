# launch.sh: what the launch suites share, sourced after tap.sh.
#
# launch_suite NAME [guest]: B, LAUNCH and QEMU set; the suite skips
# without a built launch and, with "guest", without QEMU or a guest
# kernel; $tmp (/tmp/fsb-NAME.XXXXXX) and $state made; on exit every VM of
# $state and of the state directories in $more_states is halted, the
# suite's own launch_suite_done (if it defines one) runs, and $tmp goes.
# L ARGS... runs launch on $state under TCG.
launch_suite() {
	B=${top_builddir:-.}
	LAUNCH=$B/launcher/launch
	QEMU=${FSBRIDGE_QEMU:-qemu-system-$(uname -m)}
	[ -x "$LAUNCH" ] || skip_all "$LAUNCH not built"
	if [ "${2:-}" = guest ]; then
		command -v "$QEMU" >/dev/null 2>&1 ||
			skip_all "$QEMU not installed (apt-get install qemu-system-x86)"
		"$B/guest-overlay/fsbridge-mkinitramfs" --print-kernel >/dev/null 2>&1 ||
			skip_all "no guest kernel (apt-get install linux-image-cloud-amd64)"
	fi
	tmp=$(mktemp -d "/tmp/fsb-$1.XXXXXX") || exit 1
	state=$tmp/state
	more_states=
	trap launch_suite_cleanup EXIT
}

L() { "$LAUNCH" --state "$state" --accel tcg "$@"; }

launch_suite_cleanup() {
	local s

	for s in "$state" $more_states; do
		"$LAUNCH" --state "$s" -q halt -f >/dev/null 2>&1
	done
	if declare -F launch_suite_done >/dev/null; then
		launch_suite_done
	fi
	rm -rf --one-file-system "$tmp"
}
