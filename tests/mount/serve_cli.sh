#!/bin/bash
# serve_cli.sh: fsbridge serve's command-line errors: each is one line
# starting "fsbridge: ", with exit 2 for bad usage and 1 for a failure,
# and nothing left behind.  TAP.
set -u
. "$(dirname "$0")/../lib/tap.sh"
FSB=${FSBRIDGE:-./fsbridge/fsbridge}
tmp=$(mktemp -d /tmp/fsb-servecli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"

# expect WHAT EXIT ARGS...: exit status and one stderr line "fsbridge: ..."
expect() {
	local what=$1 want=$2 rc lines
	shift 2
	timeout 10 "$FSB" "$@" > "$tmp/out" 2> "$tmp/err"
	rc=$?
	lines=$(wc -l < "$tmp/err")
	if [ "$rc" = "$want" ] && [ "$lines" = 1 ] && grep -q '^fsbridge: ' "$tmp/err"; then
		ok "$what: exit $want, one line"
	else
		not_ok "$what: exit $rc (want $want), $lines stderr lines"
		sed 's/^/# /' "$tmp/err"
	fi
}

expect "serve without --socket" 2 serve "$tmp/src"
expect "serve without SRC" 2 serve --socket "$tmp/s"
expect "serve with a bad --queues" 2 serve --socket "$tmp/s" --queues 0 "$tmp/src"
expect "serve with --queues abc" 2 serve --socket "$tmp/s" --queues abc "$tmp/src"
expect "serve with a bad policy option" 2 serve --socket "$tmp/s" -o symlinks=bogus "$tmp/src"
expect "serve with an unknown option" 2 serve --socket "$tmp/s" -o allow_other "$tmp/src"
expect "serve of a missing SRC" 1 serve --socket "$tmp/s" "$tmp/nosuch"
touch "$tmp/file"
expect "serve of a SRC that is a file" 1 serve --socket "$tmp/s" "$tmp/file"
touch "$tmp/busy"
expect "serve on a path that is a regular file" 1 serve --socket "$tmp/busy" "$tmp/src"
if [ -f "$tmp/busy" ]; then ok "the file in the way is left alone"; else not_ok "the file in the way is left alone"; fi
expect "serve on a socket in a missing directory" 1 serve --socket "$tmp/nodir/s" "$tmp/src"
if "$FSB" serve --help | grep -q -- '--socket'; then ok "serve --help"; else not_ok "serve --help"; fi
expect "serve SRC -o symlinks=bogus: options after SRC are parsed" 2 serve --socket "$tmp/s" "$tmp/src" -o symlinks=bogus
if grep -q symlinks "$tmp/err"; then ok "... and the message is about the option"; else not_ok "... the message: $(cat "$tmp/err")"; fi
# SRC before --socket: it serves (still listening when timeout stops it)
timeout 3 "$FSB" serve "$tmp/src" --socket "$tmp/perm.sock" > /dev/null 2> "$tmp/err"; rc=$?
if [ "$rc" = 124 ]; then ok "serve SRC --socket S serves"; else not_ok "serve SRC --socket S: exit $rc: $(cat "$tmp/err")"; fi
echo "1..$n"
