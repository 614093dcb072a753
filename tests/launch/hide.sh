#!/bin/bash
# hide.sh: the guest sees what a command needs and no secrets (launch(1),
# "WHAT THE GUEST DOES NOT SEE").  One real TCG VM as root with HOME set
# to a temporary home: /etc/shadow, another user's home, ~/.ssh, ~/.aws
# (also one made after the boot), the state dir and /proc of the host
# are absent (ENOENT, not listed), also through a second mount of the
# root share inside the guest; launch status and doctor list the rules;
# secret-looking variables stay behind unless -e NAME or --env-all.  A
# second boot with --expose ~/.ssh.  Then two boots in a network
# namespace of the test's own (nothing leaves it): with --net a listener
# on the host's 127.0.0.1 is out of the guest's reach, with --net=host it
# answers; the guest has a default route and passt's DNS forwarder.  TAP.
set -u

. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/launch.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (another user's home, a network namespace)"
test_user fsb-other || skip_all "cannot create the user fsb-other"
launch_suite hide guest
other=$(getent passwd fsb-other | cut -d: -f6)
export HOME=$tmp/home
unset XDG_STATE_HOME
launch_suite_done() { rm -f "$other/fsb-hide-notes"; }
mkdir -p "$tmp/proj/.git" "$HOME/.ssh" "$HOME/.aws" "$HOME/src"
echo id-key > "$HOME/.ssh/id_ed25519"
echo aws-key > "$HOME/.aws/credentials"
echo visible > "$HOME/src/visible"
echo theirs > "$other/fsb-hide-notes"
cd "$tmp/proj" || exit 1

# absent OUT NAME: the guest's "ls -a DIR" in OUT lacks NAME
gone() { ! grep -qx -- "$2" <<< "$1"; }

out=$(L -- sh -c 'head -c 40 /etc/shadow' < /dev/null 2>&1); rc=$?
check "head /etc/shadow: fails with ENOENT (got $rc: $out)" \
	bash -c '[ "$1" != 0 ] && [[ "$2" == *"No such file"* ]]' _ "$rc" "$out"
out=$(L -- ls -a /etc < /dev/null 2>&1)
check "ls /etc: no shadow, gshadow" bash -c '! grep -Eqx "g?shadow-?" <<< "$1" && grep -qx passwd <<< "$1"' _ "$out"
out=$(L -- ls -a /home < /dev/null 2>&1)
check "ls /home: no fsb-other" gone "$out" fsb-other
out=$(L -- cat "$other/fsb-hide-notes" < /dev/null 2>&1)
check "another user's file: ENOENT" bash -c '[[ "$1" == *"No such file"* ]]' _ "$out"
out=$(L -- ls -a "$HOME" < /dev/null 2>&1)
check "ls \$HOME: no .ssh, no .aws, src there" \
	bash -c '! grep -Eqx "\.ssh|\.aws" <<< "$1" && grep -qx src <<< "$1"' _ "$out"
out=$(L -- cat "$HOME/.ssh/id_ed25519" "$HOME/.aws/credentials" "$HOME/src/visible" < /dev/null 2>&1)
check "~/.ssh, ~/.aws: ENOENT; ~/src readable" \
	bash -c '[ "$(grep -c "No such file" <<< "$1")" = 2 ] && grep -qx visible <<< "$1"' _ "$out"
mkdir "$HOME/.gnupg" && echo gpg > "$HOME/.gnupg/secring"
out=$(L -- cat "$HOME/.gnupg/secring" < /dev/null 2>&1)
check "~/.gnupg made after the boot: ENOENT" bash -c '[[ "$1" == *"No such file"* ]]' _ "$out"
out=$(L -- ls "$state" /proc/1/environ < /dev/null 2>&1)
check "the state dir: ENOENT (the guest's /proc is its own)" \
	bash -c '[[ "$1" == *"$2"*"No such file"* ]]' _ "$out" "$state"

# the root share mounted again inside the guest, outside the chroot's view
remount='mkdir -p /tmp/rootx && mount -t virtiofs root /tmp/rootx || exit 9
for p in etc/shadow etc/gshadow "home/fsb-other" "${HOME#/}/.ssh" "${HOME#/}/.aws" \
    "${STATE#/}" run/fsbridge proc/1 sys/kernel; do
	if [ -e "/tmp/rootx/$p" ]; then echo "SEEN $p"; fi
done
ls -a /tmp/rootx/etc | grep -x shadow && echo "LISTED shadow"
ls /tmp/rootx/etc/passwd > /dev/null && echo mounted
umount /tmp/rootx'
out=$(L -e STATE="$state" -- sh -c "$remount" < /dev/null 2>&1)
check "a second mount of the root tag shows nothing hidden (got: $out)" \
	bash -c '[ "$1" = mounted ]' _ "$out"

out=$(L status 2>&1)
check "launch status lists the hidden paths" \
	bash -c 'grep -q "^hidden  */etc/shadow$" <<< "$1" && grep -q "^hidden  *$2/.ssh$" <<< "$1" && grep -q "^hidden  *$3$" <<< "$1"' _ "$out" "$HOME" "$other"
out=$(L doctor 2>&1)
check "launch doctor shows the running VM's list" \
	bash -c 'grep -q "^ok    hide: .* paths hidden" <<< "$1" && grep -q "^ok    hidden: $2/.aws$" <<< "$1"' _ "$out" "$HOME"

# the environment
out=$(FSB_TEST_TOKEN=t1 MY_DB_PASSWORD=p1 AWS_PROFILE=a1 GITHUB_TOKEN=g1 SSH_AUTH_SOCK=/x \
	api_key=k1 FSB_PLAIN=plain L -- env < /dev/null 2>&1)
check "secret-looking variables are not carried; others are" \
	bash -c '! grep -Eq "^(FSB_TEST_TOKEN|MY_DB_PASSWORD|AWS_PROFILE|GITHUB_TOKEN|SSH_AUTH_SOCK|api_key)=" <<< "$1" && grep -qx FSB_PLAIN=plain <<< "$1"' _ "$out"
out=$(FSB_TEST_TOKEN=t1 AWS_PROFILE=a1 L -e FSB_TEST_TOKEN -- env < /dev/null 2>&1)
check "-e NAME passes one" bash -c 'grep -qx FSB_TEST_TOKEN=t1 <<< "$1" && ! grep -q ^AWS_PROFILE= <<< "$1"' _ "$out"
out=$(FSB_TEST_TOKEN=t1 L --env-all -- env < /dev/null 2>&1)
check "--env-all passes them all" grep -qx FSB_TEST_TOKEN=t1 <<< "$out"

L --expose "$HOME/.ssh" -- true < /dev/null 2> "$tmp/err"; rc=$?
check "a running VM refuses another hide list (got $rc)" \
	bash -c '[ "$1" = 125 ] && grep -q "hides another list" "$2"' _ "$rc" "$tmp/err"
L -q halt
out=$(L --expose "$HOME/.ssh" -- cat "$HOME/.ssh/id_ed25519" "$HOME/.aws/credentials" < /dev/null 2>&1)
check "--expose ~/.ssh brings it back, ~/.aws stays hidden" \
	bash -c 'grep -qx id-key <<< "$1" && grep -q "No such file" <<< "$1"' _ "$out"
L --expose /etc/shadow/x -- true < /dev/null 2> "$tmp/err"; rc=$?
L -q halt
check "--expose of a path inside a hidden one: refused, naming it" \
	bash -c '[ "$1" != 0 ] && grep -q "inside the hidden" "$2"' _ "$rc" "$tmp/err"

# ---- the network, in a namespace of our own: nothing leaves it ----
command -v passt >/dev/null 2>&1 || { echo "# no passt: skipping the network tests"; echo "1..$n"; exit 0; }
command -v python3 >/dev/null 2>&1 || { echo "# no python3"; echo "1..$n"; exit 0; }
port=$((20000 + RANDOM % 30000))
cat > "$tmp/netns.sh" <<'EOS'
set -u
ip link set lo up
ip link add fsbv0 type veth peer name fsbv1
ip addr add 192.0.2.2/24 dev fsbv0
ip link set fsbv0 up; ip link set fsbv1 up
ip route add default via 192.0.2.1
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True:
    c, _ = s.accept(); open(sys.argv[2], "a").write("accepted\n"); c.close()' "$PORT" "$TMP/accepted" &
lsn=$!
probe='cat /etc/resolv.conf; cat /proc/net/route
python3 -c "
import socket
try:
    socket.create_connection((\"10.0.2.2\", $PORT), timeout=5); print(\"REACHED\")
except OSError as e:
    print(\"unreachable\", e)"'
"$LAUNCH" --state "$TMP/nstate" --accel tcg "$NET" -e PORT="$PORT" -- sh -c "$probe" < /dev/null
"$LAUNCH" --state "$TMP/nstate" -q halt
kill $lsn
EOS
for net in --net --net=host; do
	rm -f "$tmp/accepted"
	out=$(TMP=$tmp PORT=$port NET=$net LAUNCH=$LAUNCH unshare -n bash "$tmp/netns.sh" 2>&1)
	check "$net: eth0's default route via 10.0.2.2, DNS through passt's 10.0.2.3" \
		bash -c 'grep -q "^nameserver 10.0.2.3$" <<< "$1" && [[ "$1" == *"eth0	00000000	0202000A"* ]]' _ "$out"
	if [ "$net" = --net ]; then
		got=$(grep -E 'REACHED|unreachable' <<< "$out")
		check "--net: the host's 127.0.0.1:$port is out of reach (got: $got)" \
			bash -c '! grep -q REACHED <<< "$1" && [ ! -e "$2" ]' _ "$out" "$tmp/accepted"
	else
		check "--net=host: the host's 127.0.0.1:$port answers at 10.0.2.2" \
			bash -c 'grep -q REACHED <<< "$1" && [ -e "$2" ]' _ "$out" "$tmp/accepted"
	fi
done
echo "1..$n"
