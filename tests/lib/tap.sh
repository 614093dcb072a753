# tap.sh: the TAP helpers the shell test scripts source
# (. "$(dirname "$0")/../lib/tap.sh"): a counter, ok / not_ok lines, check
# DESCRIPTION COMMAND... (ok if COMMAND succeeds), and skip_all REASON
# for a script that cannot run here.  Each script prints its plan
# ("1..$n") at the end.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# Unprivileged users for the tests that run as an ordinary user or attack
# as another local user.  test_user NAME makes sure the local user NAME
# exists (created with its own group and a home directory; needs root) and
# fails if it cannot be had.  as_user NAME CMD... runs CMD as NAME: its
# uid, gid and supplementary groups, HOME, USER and LOGNAME, no capabilities.
# The suites use two names: fsb-user (the ordinary developer) and fsb-other
# (another local user, the attacker).
test_user() {
	id -u "$1" >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || return 1
	useradd --create-home --shell /bin/sh --user-group "$1" >/dev/null 2>&1
	id -u "$1" >/dev/null 2>&1
}
as_user() {
	local who=$1 home
	shift
	home=$(getent passwd "$who" | cut -d: -f6)
	setpriv --reuid="$who" --regid="$who" --init-groups --inh-caps=-all \
		env -u XDG_RUNTIME_DIR -u XDG_STATE_HOME -u XDG_CONFIG_HOME HOME="$home" USER="$who" LOGNAME="$who" "$@"
}

# report GOOD NAME [DIAGNOSTIC]: ok when GOOD is 1, else not ok followed
# by the first lines of DIAGNOSTIC as comments; failures counts the not oks.
failures=0
report() {
	n=$((n + 1))
	if [ "$1" = 1 ]; then
		echo "ok $n - $2"
	else
		failures=$((failures + 1))
		echo "not ok $n - $2"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | head -n 8 | sed 's/^/#   /'
	fi
	return 0
}

# skip_unless_fuse: a suite that mounts with $FSBRIDGE needs /dev/fuse,
# and fusermount3 when not root.
skip_unless_fuse() {
	[ -e /dev/fuse ] && [ -n "${FSBRIDGE:-}" ] || skip_all "needs /dev/fuse and FSBRIDGE"
	[ "$(id -u)" = 0 ] || command -v fusermount3 >/dev/null ||
		skip_all "not root and no fusermount3 (apt-get install fuse3)"
}
