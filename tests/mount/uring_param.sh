# uring_param.sh: sourced by the io_uring mount tests (with_uring.sh,
# uring.sh).  FUSE over io_uring is a kernel-wide switch,
# /sys/module/fuse/parameters/enable_uring; a test turns it on with
# uring_param_on and gives it back with uring_param_restore (from its EXIT
# trap).  Suites that run at once share it: the first one saves the value
# it found, the last one to finish writes it back.  uring_param_off turns
# it off for a moment (a test of the refusal), under the same lock.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_STATE=/run/fsbridge-uring-tests
URING_HELD=

# Why io_uring mounts cannot be tested here, or nothing.
uring_param_why_not() {
	[ "$(id -u)" = 0 ] || { echo "needs root (to write $URING_PARAM)"; return; }
	[ -e "$URING_PARAM" ] || { echo "this kernel has no FUSE over io_uring ($URING_PARAM is missing)"; return; }
	[ -c /dev/fuse ] || echo "/dev/fuse is missing"
}

uring_param_locked() {
	mkdir -p "$URING_STATE/users" && (
		flock -w 1200 9 || exit 1
		"$@"
	) 9>"$URING_STATE/lock"
}

uring_param_take() {
	local u
	# users that died without giving it back do not count
	for u in "$URING_STATE"/users/*; do
		[ -e "$u" ] && ! kill -0 "${u##*/}" 2>/dev/null && rm -f "$u"
	done
	if [ -z "$(ls -A "$URING_STATE/users")" ]; then
		cat "$URING_PARAM" > "$URING_STATE/saved"
	fi
	: > "$URING_STATE/users/$1"
	echo 1 > "$URING_PARAM"
}

uring_param_give() {
	rm -f "$URING_STATE/users/$1"
	if [ -z "$(ls -A "$URING_STATE/users")" ] && [ -f "$URING_STATE/saved" ]; then
		cat "$URING_STATE/saved" > "$URING_PARAM"
		rm -f "$URING_STATE/saved"
	fi
}

uring_param_on() {
	uring_param_locked uring_param_take $$ || return 1
	URING_HELD=$$
}

uring_param_restore() {
	[ -n "$URING_HELD" ] && uring_param_locked uring_param_give "$URING_HELD"
	URING_HELD=
}

# Run COMMAND... with the switch off.  Another suite's mount would fail
# meanwhile: wait (up to 15 min) until no other suite holds the switch,
# then turn it off under the lock (none can take it before it is back on).
uring_param_off_during() {
	local i
	for ((i = 0; i < 900; i++)); do
		uring_param_locked uring_param_run_off_alone "$@" && return 0
		[ $? = 75 ] || return 1
		sleep 1
	done
	uring_param_locked uring_param_run_off "$@"
}
uring_param_run_off_alone() {
	local u
	for u in "$URING_STATE"/users/*; do
		[ -e "$u" ] || continue
		[ "${u##*/}" = "$URING_HELD" ] && continue
		kill -0 "${u##*/}" 2>/dev/null && return 75
	done
	uring_param_run_off "$@"
}
uring_param_run_off() {
	local rc
	echo 0 > "$URING_PARAM"
	"$@"
	rc=$?
	echo 1 > "$URING_PARAM"
	return $rc
}
