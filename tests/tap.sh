# tap.sh: the TAP helpers the shell test scripts source
# (. "$(dirname "$0")/../tap.sh"): a counter, ok / not_ok lines, check
# DESCRIPTION COMMAND... (ok if COMMAND succeeds), and skip_all REASON
# for a script that cannot run here.  Each script prints its plan
# ("1..$n") at the end.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
