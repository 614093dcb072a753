/*
 * contract.h: what the host (launcher/) and the guest (fsbridge-init,
 * fsbridge-agent) agree on besides the agent protocol (agent_proto.h):
 * the kernel command-line keys, the share tags and where the guest mounts
 * them, where the agent sits in the image, and the hints record format.
 * Defined here alone; both sides include it.  Plain macros, libc only.
 */
#ifndef FSB_CONTRACT_H
#define FSB_CONTRACT_H

/*
 * Kernel command line, read by fsbridge-init from /proc/cmdline and
 * written by the launcher (qemu_argv.c).  Every key starts with
 * FSB_CMDLINE_PREFIX; init refuses one of those it does not know.
 *   fsbridge.share=TAG:/DIR[:ro|:rw]  mount virtio-fs TAG at DIR (repeatable)
 *   fsbridge.run=/PATH                the program to run
 *   fsbridge.quiet                    print only errors and the exit line
 *   fsbridge.halt=poweroff|reboot     how to stop (default poweroff)
 */
#define FSB_CMDLINE_PREFIX "fsbridge."
#define FSB_CMDLINE_SHARE "fsbridge.share="
#define FSB_CMDLINE_RUN "fsbridge.run="
#define FSB_CMDLINE_QUIET "fsbridge.quiet"
#define FSB_CMDLINE_HALT "fsbridge.halt="

/* The length of a key, for strncmp and for skipping it. */
#define FSB_KEYLEN(key) (sizeof(key) - 1)

/*
 * The shares: one vhost-user-fs device per share with this tag, mounted
 * by fsbridge-init where the launcher's fsbridge.share= says.  root is the
 * host's root, read-only (the lower layer of the agent's overlay root);
 * proj the project, read-write (bound at its host path in the guest);
 * m<i> the i-th --mount (its mount point comes in HELLO).
 */
#define FSB_TAG_ROOT "root"
#define FSB_TAG_PROJ "proj"
#define FSB_TAG_MOUNT_FMT "m%d"
#define FSB_GUEST_ROOT_SHARE "/fsb/root"
#define FSB_GUEST_PROJ_SHARE "/fsb/proj"
#define FSB_GUEST_MOUNT_FMT "/fsb/m%d"

/* Where the image builder puts the agent (fsbridge.run= of the launcher). */
#define FSB_GUEST_AGENT "/fsbridge-agent"

/*
 * Hints: `fsbridge serve --hints-fd N` (fsbridge/core/fs_hint.c) writes
 * on fd N a record per change it saw on the host, NUL-terminated: a kind
 * (FSB_HINT_K_*), a hex digit of flags (FSB_HINT_F_*), the cookie that
 * pairs a rename's two halves as 8 hex digits (0 for other kinds), then
 * the path relative to the share's root: DIR/NAME for the entry NAME of
 * DIR, or the object itself with FSB_HINT_F_SELF ("" is the root).
 * FSB_HINT_LOST alone when it lost track (look again at everything).
 * The launcher's hint_relay.c turns each into a HINT frame
 * (agent_proto.h) with the absolute guest path.
 */
#define FSB_HINT_LOST "/"
#define FSB_HINT_HDR 10		/* kind, flags, 8 hex digits of cookie */

#define FSB_HINT_K_CREATE	'C'	/* IN_CREATE */
#define FSB_HINT_K_MOVED_TO	'T'	/* IN_MOVED_TO */
#define FSB_HINT_K_MODIFY	'M'	/* IN_MODIFY */
#define FSB_HINT_K_ATTRIB	'A'	/* IN_ATTRIB */
#define FSB_HINT_K_CLOSE_WRITE	'W'	/* IN_CLOSE_WRITE */
#define FSB_HINT_K_MOVED_FROM	'F'	/* IN_MOVED_FROM */
#define FSB_HINT_K_DELETE	'D'	/* IN_DELETE */
#define FSB_HINT_K_LOST		'L'	/* HINT frames only: the server of the
					 * share at the path lost track */

/* One of the kinds a server writes (FSB_HINT_K_LOST is the relay's). */
static inline int
fsb_hint_kind_ok(char k)
{
	switch (k) {
	case FSB_HINT_K_CREATE: case FSB_HINT_K_MOVED_TO: case FSB_HINT_K_MODIFY:
	case FSB_HINT_K_ATTRIB: case FSB_HINT_K_CLOSE_WRITE:
	case FSB_HINT_K_MOVED_FROM: case FSB_HINT_K_DELETE:
		return 1;
	default:
		return 0;
	}
}

#define FSB_HINT_F_DIR		1	/* the object is a directory */
#define FSB_HINT_F_SELF		2	/* the path is the object, not DIR/NAME */
#define FSB_HINT_F_ROOT		4	/* HINT frames only: a change in the root
					 * share, which the guest sees through an
					 * overlay */

#endif
