#!/bin/bash
# serve_peer.sh: `fsbridge serve`'s socket is its owner's alone.  The
# socket is born 0600; another local user (fsb-other) cannot be the
# front-end, not even through a socket someone made connectable: the
# server hangs up on it, logs its uid, and goes on serving its owner
# (fsb-user); --allow-uid lets a named user in; whatever is at the
# socket's path and is not a stale socket of the owner is left alone.
# Needs root (to make the two users).  TAP.
set -u
. "$(dirname "$0")/../lib/tap.sh"
FSB=${FSBRIDGE:-./fsbridge/fsbridge}
PROBE=${top_builddir:-.}/tests/vhost/peer_probe
[ "$(id -u)" = 0 ] || skip_all "needs root to run as two users"
test_user fsb-user && test_user fsb-other || skip_all "cannot make the users fsb-user and fsb-other"
other_uid=$(id -u fsb-other)

tmp=$(mktemp -d /tmp/fsb-peer.XXXXXX)
spid=
stop_server() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null
	for _ in $(seq 1 100); do
		[ -n "$spid" ] && kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	spid=
	wait
}
trap 'stop_server; rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir "$tmp/bin" "$tmp/run" "$tmp/src" "$tmp/shared"
cp "$FSB" "$PROBE" "$tmp/bin/"
chmod 755 "$tmp/bin" "$tmp/bin"/*
chown fsb-user: "$tmp/run" "$tmp/src"
chmod 1777 "$tmp/shared"
echo secret > "$tmp/src/file"
chown fsb-user: "$tmp/src/file"

# start_server SOCKET ARGS...: fsb-user serves $tmp/src on SOCKET
start_server() {
	local sock=$1
	shift
	rm -f "$tmp/run/server.pid"
	# the server's own pid (as_user is a function: $! would be a subshell)
	as_user fsb-user sh -c 'echo $$ > "$0"; exec "$@"' "$tmp/run/server.pid" \
		"$tmp/bin/fsbridge" serve --socket "$sock" "$@" "$tmp/src" \
		> "$tmp/server.log" 2>&1 &
	for _ in $(seq 1 150); do
		spid=$(cat "$tmp/run/server.pid" 2>/dev/null)
		[ -n "$spid" ] && [ -S "$sock" ] && return 0
		[ -n "$spid" ] && ! kill -0 "$spid" 2>/dev/null && break
		sleep 0.2
	done
	sed 's/^/# server: /' "$tmp/server.log"
	return 1
}
ask() { as_user "$1" "$tmp/bin/peer_probe" ask "$2" > "$tmp/ask.out" 2>&1; }

sock=$tmp/run/fs.sock
check "the server starts" start_server "$sock"
mode=$(stat -c %a "$sock")
check "the socket is created 0600 (is $mode)" [ "$mode" = 600 ]

ask fsb-other "$sock"
rc=$?
check "fsb-other cannot connect to the socket (exit $rc: $(cat "$tmp/ask.out"))" [ "$rc" = 2 ]

# Even when the file mode lets it connect, the peer's uid is checked.
chmod 666 "$sock"
ask fsb-other "$sock"
rc=$?
check "fsb-other connecting through a 0666 socket gets no GET_FEATURES answer (exit $rc: $(cat "$tmp/ask.out"))" \
	[ "$rc" = 3 ]
check "the refusal is logged with fsb-other's uid" grep -q "refused a front-end: uid $other_uid (pid [0-9]*)" "$tmp/server.log"
check "the server still listens after the refusal" kill -0 "$spid"
ask fsb-user "$sock"
rc=$?
check "the owner is served afterwards (exit $rc: $(cat "$tmp/ask.out"))" [ "$rc" = 0 ]
stop_server

check "--allow-uid fsb-other: the server starts" start_server "$sock" --allow-uid fsb-other
mode=$(stat -c %a "$sock")
check "with --allow-uid the socket is 0666 (is $mode)" [ "$mode" = 666 ]
ask fsb-other "$sock"
rc=$?
check "--allow-uid fsb-other: fsb-other is served (exit $rc: $(cat "$tmp/ask.out"))" [ "$rc" = 0 ]
stop_server
check "--allow-uid $other_uid (a number): the server starts" start_server "$sock" --allow-uid "$other_uid"
ask fsb-other "$sock"
rc=$?
check "--allow-uid $other_uid: fsb-other is served (exit $rc)" [ "$rc" = 0 ]
stop_server

# What is at the socket's path already.
# expect_refused WHAT PATH: serve on PATH exits 1 with one line, PATH stays
expect_refused() {
	local what=$1 path=$2 before rc
	before=$(stat -c '%F %U %i' "$path")
	as_user fsb-user timeout 20 "$tmp/bin/fsbridge" serve --socket "$path" "$tmp/src" \
		> "$tmp/out" 2> "$tmp/err"
	rc=$?
	if [ "$rc" = 1 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q '^fsbridge: ' "$tmp/err"; then
		ok "$what: serve exits 1 with one line"
	else
		not_ok "$what: serve exits $rc (want 1 and one line)"
		sed 's/^/# /' "$tmp/err"
	fi
	check "$what: it is left alone" [ "$(stat -c '%F %U %i' "$path" 2>&1)" = "$before" ]
}
touch "$tmp/shared/file"
chown fsb-user: "$tmp/shared/file"
expect_refused "a regular file at the socket path" "$tmp/shared/file"
ln -s "$tmp/src/file" "$tmp/shared/link"
expect_refused "a symbolic link at the socket path" "$tmp/shared/link"
as_user fsb-other "$tmp/bin/peer_probe" bind "$tmp/shared/theirs.sock"
expect_refused "another user's stale socket at the socket path" "$tmp/shared/theirs.sock"
as_user fsb-user "$tmp/bin/peer_probe" bind "$tmp/shared/mine.sock"
check "a stale socket of the owner's is replaced" start_server "$tmp/shared/mine.sock"
ask fsb-user "$tmp/shared/mine.sock"
check "and served" [ $? = 0 ]
stop_server
echo "1..$n"
