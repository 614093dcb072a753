/*
 * agent_proto.h: the launch <-> guest agent wire protocol, shared by the
 * host (launcher/) and the guest agent (guest-overlay/agent/, libc only);
 * frame_io.c reads and writes its frames, contract.h holds the rest of
 * the host-guest contract.
 *
 * A byte stream of frames.  Each frame is a 12-byte header followed by
 * `len` bytes of payload; integers are little-endian:
 *
 *   u16 magic (0x4246, "FB")   u8 version (AP_VERSION)   u8 type
 *   u32 session                u32 len (<= AP_MAX_PAYLOAD)
 *
 * Session 0 is the connection itself (HELLO, HALT, boot errors); every
 * command gets its own non-zero session.  The same frames travel on the
 * virtio-serial port (supervisor <-> agent) and on the supervisor's
 * control socket (launch <-> supervisor, which renumbers sessions).
 *
 *   HELLO   host->agent: u32 version, project dir (NUL-terminated), then
 *           per volume its name (the disk's serial) and mount point, then
 *           per --mount the directory where fsbridge-init mounted its
 *           share (FSB_GUEST_MOUNT_FMT: a path, where a volume name never
 *           starts with '/') and the mount point, all NUL-terminated;
 *           agent->host: u32 version, once the guest root is assembled
 *   EXEC    u32 uid, u32 gid, u32 flags, u32 rows, u32 cols, u32 argc,
 *           u32 envc, u32 ngroups, then ngroups u32 supplementary group
 *           ids (at most AP_MAX_GROUPS), then NUL-terminated strings:
 *           cwd, argv[argc], env[envc]; the command runs with exactly
 *           these ids (the launch user's); flags AP_EXEC_PTY: stdin/stdout/stderr on a new
 *           pseudo-terminal of rows x cols (its output comes as STDOUT;
 *           EOF on stdin is sent as ^D); flags AP_EXEC_PS: no command,
 *           the agent sends its process table (launch ps) and EXIT 0;
 *           flags AP_EXEC_ISOLATED: the command gets a mount namespace
 *           with a fresh overlay of the root (launch --isolated)
 *   WINSIZE u32 rows, u32 cols: the pseudo-terminal's size (SIGWINCH)
 *   ACK     u32 bytes: flow control.  host->agent: that much STDOUT/STDERR
 *           has been written out; the agent keeps at most AP_OUTPUT_WINDOW
 *           bytes of a session's output unacknowledged (and stops reading
 *           the command's pipes meanwhile).  agent->host: the command has
 *           taken that much stdin; the host keeps at most AP_INPUT_WINDOW
 *           bytes of a session's stdin unacknowledged.  So one stalled
 *           reader or writer stalls only its own session.
 *   STDIN   bytes for the command's stdin; an empty payload is EOF
 *   STDOUT, STDERR   the command's output (agent->host)
 *   SIGNAL  u32 signal number, sent to the command's process group
 *   EXIT    u32 how (AP_EXITED or AP_KILLED), u32 code or signal; the
 *           last frame of a session
 *   ERROR   a message (the session failed before it ran, or on session
 *           0 the guest could not start); the last frame of a session
 *   HALT    session 0: stop every command, sync, power the guest off
 *   HINT    session 0, host->agent: changes the host made, one or more
 *           records back to back, each: u8 kind (FSB_HINT_K_* of
 *           contract.h), u8 flags (FSB_HINT_F_*), u16 zero, u32 cookie
 *           (pairs a rename's MOVED_FROM and MOVED_TO, else 0), then the
 *           absolute guest path, NUL-terminated: DIR/NAME, or the object
 *           itself with FSB_HINT_F_SELF.  The agent makes the guest kernel
 *           look at them again and raises the inotify events a local
 *           change would have (fsb_notify).  Empty: look again at
 *           everything
 *   PING    session 0: host->agent, answered with a PING: the agent is up
 *           and waiting (a VM booted to be saved, launch(1) "warm start")
 *   WAKE    session 0, host->agent, before HELLO in a VM booted with no
 *           share or restored from a saved state: u64 seconds, u32
 *           nanoseconds of the host's CLOCK_REALTIME, u32 n, n bytes of
 *           host randomness, then per share its tag, mount point and "ro"
 *           or "rw", NUL-terminated; the agent sets the clock, reseeds the
 *           kernel's RNG, waits for that many virtio-fs devices (hot-
 *           plugged) and mounts them.  Nothing is answered: HELLO follows
 *           (an ERROR on session 0 says why the guest cannot go on)
 */
#ifndef FSB_AGENT_PROTO_H
#define FSB_AGENT_PROTO_H

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#define AP_MAGIC 0x4246u
#define AP_VERSION 4u   /* 2: EXEC carries the supplementary groups; 3: PING, WAKE;
                         * 4: HINT carries the kind of change */
#define AP_HDR_SIZE 12u
#define AP_MAX_PAYLOAD (256u * 1024u)
#define AP_DATA_CHUNK (32u * 1024u)   /* stream data per frame */
#define AP_PORT_NAME "fsbridge.agent"

enum ap_type {
	AP_HELLO = 1,
	AP_EXEC = 2,
	AP_STDIN = 3,
	AP_STDOUT = 4,
	AP_STDERR = 5,
	AP_SIGNAL = 6,
	AP_EXIT = 7,
	AP_ERROR = 8,
	AP_HALT = 9,
	AP_WINSIZE = 10,
	AP_ACK = 11,
	AP_HINT = 12,
	AP_PING = 13,
	AP_WAKE = 14,
};

#define AP_HINT_FIXED 8u    /* kind, flags, zero, cookie */
#define AP_WAKE_FIXED 16u   /* seconds, nanoseconds, seed length */
#define AP_WAKE_SEED 64u    /* bytes of randomness the host sends */

#define AP_OUTPUT_WINDOW (64u * 1024u)
#define AP_INPUT_WINDOW (256u * 1024u)

#define AP_EXEC_PTY 1u
#define AP_EXEC_PS 2u      /* run nothing: the agent answers the guest's
                            * process list as STDOUT, then EXIT 0 */
#define AP_EXEC_ISOLATED 4u /* a fresh overlay of the root for this
                            * command alone (launch --isolated) */
#define AP_EXEC_FIXED 32u  /* the u32 fields before the groups */
#define AP_MAX_GROUPS 65536u /* NGROUPS_MAX of Linux */

#define AP_SIGNAL_MAX 64  /* an EXIT's signal is 1..64 (Linux's _NSIG - 1) */

enum ap_exit_how {
	AP_EXITED = 0,
	AP_KILLED = 1,
};

struct ap_hdr {
	uint8_t type;
	uint32_t session;
	uint32_t len;
};

static inline void
ap_put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline uint32_t
ap_get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline void
ap_hdr_pack(unsigned char out[AP_HDR_SIZE], const struct ap_hdr *h)
{
	uint16_t magic = htole16(AP_MAGIC);

	memcpy(out, &magic, 2);
	out[2] = AP_VERSION;
	out[3] = h->type;
	ap_put32(out + 4, h->session);
	ap_put32(out + 8, h->len);
}

/* 0, or -EPROTO for a bad magic, version or length. */
static inline int
ap_hdr_unpack(const unsigned char in[AP_HDR_SIZE], struct ap_hdr *h)
{
	uint16_t magic;

	memcpy(&magic, in, 2);
	if (le16toh(magic) != AP_MAGIC || in[2] != AP_VERSION)
		return -EPROTO;
	h->type = in[3];
	h->session = ap_get32(in + 4);
	h->len = ap_get32(in + 8);
	if (h->len > AP_MAX_PAYLOAD)
		return -EPROTO;
	return 0;
}

#endif
