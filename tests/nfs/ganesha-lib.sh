# shellcheck shell=bash
# tests/nfs/ganesha-lib.sh: NFS-Ganesha on loopback for the tests in
# tests/nfs, sourced by them (not a test itself).  The caller defines
# skip_all (print a TAP skip_all plan and exit), then:
#
#   ganesha_check              skip_all unless Ganesha can run here: root,
#                              ganesha.nfsd, its VFS FSAL
#   ganesha_setup DIR          its config, log and start/stop scripts in DIR
#                              (made); a free port in $PORT (or skip_all)
#   ganesha_export ID PATH PSEUDO
#                              export the directory PATH as PSEUDO (NFSv4
#                              only, rw, no root squash, no attribute cache)
#   ganesha_first_start        start it, or skip_all with the reason from
#                              its log
#   ganesha_start, ganesha_stop, ganesha_restart
#   $RESTART                   a shell command that restarts it (for a
#                              program to run)
#
# Ganesha runs in the foreground (-F) from the small scripts in DIR that
# keep its pid in DIR/child: whoever restarts it (the test, or a program
# through $RESTART) updates that file, so ganesha_stop stops the one
# running.  Call ganesha_stop from the caller's EXIT trap.

ganesha_check() {
	local lib ok=
	[ "$(id -u)" = 0 ] ||
		skip_all "needs root (NFS-Ganesha's VFS FSAL uses open_by_handle_at)"
	GANESHA=$(command -v ganesha.nfsd) ||
		skip_all "ganesha.nfsd not found (apt-get install nfs-ganesha nfs-ganesha-vfs)"
	for lib in /usr/lib/*/ganesha/libfsalvfs.so /usr/lib/ganesha/libfsalvfs.so \
	    /usr/lib64/ganesha/libfsalvfs.so; do
		[ -e "$lib" ] && ok=1
	done
	[ -n "$ok" ] || skip_all "Ganesha's VFS FSAL is missing (apt-get install nfs-ganesha-vfs)"
}

# A TCP port nobody listens on.
ganesha_free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

ganesha_setup() {
	GDIR=$1
	GPID=
	mkdir -p "$GDIR"
	PORT=$(ganesha_free_port) || skip_all "no free TCP port for Ganesha"
	cat >"$GDIR/ganesha.conf" <<CONF
NFS_CORE_PARAM {
	Protocols = 4;
	Bind_addr = 127.0.0.1;
	NFS_Port = $PORT;
	Enable_NLM = false;
	Enable_RQUOTA = false;
}
NFSV4 {
	Graceless = true;
	Only_Numeric_Owners = true;
}
NFS_KRB5 { Active_krb5 = false; }
CONF
	cat >"$GDIR/start" <<SCRIPT
#!/bin/sh
'$GANESHA' -F -f '$GDIR/ganesha.conf' -L '$GDIR/log' -p '$GDIR/pid' </dev/null >/dev/null 2>&1 &
echo \$! >'$GDIR/child'
for i in \$(seq 100); do
	ss -Hltn 'sport = :$PORT' | grep -q . && exit 0
	kill -0 \$(cat '$GDIR/child') 2>/dev/null || exit 1
	sleep 0.1
done
exit 1
SCRIPT
	cat >"$GDIR/stop" <<SCRIPT
#!/bin/sh
p=\$(cat '$GDIR/child' 2>/dev/null)
[ -n "\$p" ] || exit 0
kill -TERM \$p 2>/dev/null
for i in \$(seq 100); do
	kill -0 \$p 2>/dev/null || exit 0
	sleep 0.1
done
kill -KILL \$p 2>/dev/null
exit 0
SCRIPT
	chmod +x "$GDIR/start" "$GDIR/stop"
	# shellcheck disable=SC2034 # for the caller
	RESTART="'$GDIR/stop' && '$GDIR/start'"
}

ganesha_export() {	# ganesha_export ID PATH PSEUDO
	cat >>"$GDIR/ganesha.conf" <<CONF
EXPORT {
	Export_Id = $1;
	Path = $2;
	Pseudo = $3;
	Access_Type = RW;
	Squash = No_Root_Squash;
	Protocols = 4;
	SecType = sys;
	Attr_Expiration_Time = 0;
	FSAL { Name = VFS; }
}
CONF
}

ganesha_start() {
	GPID=started
	"$GDIR/start"
}

ganesha_stop() {
	[ -n "${GPID:-}" ] || return 0
	"$GDIR/stop"
	GPID=
}

ganesha_restart() {
	ganesha_stop
	ganesha_start
}

ganesha_first_start() {
	local reason
	ganesha_start && return 0
	reason=$(grep -E 'CRIT|FATAL' "$GDIR/log" 2>/dev/null | grep -v DBUS | tail -n 1 | cut -c1-200)
	skip_all "NFS-Ganesha did not start on 127.0.0.1:$PORT${reason:+: $reason}"
}
