/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fsb_notify.h: the record format of /dev/fsb_notify, shared by the guest
 * kernel module (fsb_notify.c) and the programs that write to it (the
 * agent, tests/guest/notify_probe.c).  Include it from the kernel or from
 * user space: it needs only <linux/types.h>.
 *
 * A write() carries one or more records back to back, each a struct
 * fsb_notify_rec followed by its strings, in this order and without NUL
 * terminators: dir (dir_len bytes), name (name_len), dir2 (dir2_len),
 * name2 (name2_len).  size is the whole record: the header plus the four
 * lengths.  The records are raised in order; write() returns the bytes
 * of the records raised, so a short count means the record at that
 * offset failed (write it alone to get its errno) and the ones after it
 * were not looked at.  Errors: EINVAL (malformed record), ENOENT,
 * ENOTDIR, EACCES... (dir could not be resolved: nothing was raised),
 * EAGAIN (FSB_NOTIFY_F_CACHED and dir is not in the dentry cache).
 *
 * dir and dir2 are absolute paths resolved like open() would, in the
 * writer's root and mount namespace, following symlinks.  name and name2
 * are one component: 1..255 bytes, no '/', not "." or "..".  No string
 * may contain a NUL byte.
 *
 * Kinds (what an inotify watcher in the guest sees; "the child" is dir/name
 * if the guest's dentry cache holds it, else the event reaches only the
 * watch on dir, with the name, as it would for a child the guest never
 * looked up):
 *
 *   CREATE       dir, name: IN_CREATE on dir (IN_ISDIR with F_DIR).
 *   DELETE       dir, name: the child, if cached: IN_ATTRIB (files only,
 *                link count), IN_DELETE_SELF and IN_IGNORED (its watches
 *                are removed, as when the last link goes; with F_LINKED
 *                only the IN_ATTRIB); then IN_DELETE on dir.
 *   MODIFY       dir, name: IN_MODIFY on the child and on dir with name.
 *   CLOSE_WRITE  likewise IN_CLOSE_WRITE.
 *   ATTRIB       likewise IN_ATTRIB.
 *                For these three, name_len 0 means dir itself (a mount
 *                root can only be named so).
 *   MOVE         dir, name -> dir2, name2: IN_MOVED_FROM on dir and
 *                IN_MOVED_TO on dir2 with one new cookie (IN_ISDIR with
 *                F_DIR); IN_MOVE_SELF on the moved object if cached (at
 *                the old name, else at the new one); a different object
 *                cached at the new name was replaced: IN_ATTRIB,
 *                IN_DELETE_SELF, IN_IGNORED on it (unless F_LINKED).
 *   OVERFLOW     dir (name_len 0): "changes under dir were lost".  6.1
 *                cannot queue IN_Q_OVERFLOW into a watcher's group from
 *                a module (see README.md), so this raises IN_ATTRIB|IN_ISDIR
 *                on dir (and on its parent's watch, with its name).
 */
#ifndef FSB_NOTIFY_H
#define FSB_NOTIFY_H

#include <linux/types.h>

#define FSB_NOTIFY_DEVICE "/dev/fsb_notify"
#define FSB_NOTIFY_VERSION "2"	/* 2: FSB_NOTIFY_F_DROP */

enum fsb_notify_kind {
	FSB_NOTIFY_CREATE = 1,
	FSB_NOTIFY_DELETE = 2,
	FSB_NOTIFY_MODIFY = 3,
	FSB_NOTIFY_CLOSE_WRITE = 4,
	FSB_NOTIFY_ATTRIB = 5,
	FSB_NOTIFY_MOVE = 6,
	FSB_NOTIFY_OVERFLOW = 7,
};

/* The object is a directory (dirent events and uncached children). */
#define FSB_NOTIFY_F_DIR	0x0001
/* DELETE/MOVE: the deleted or replaced object keeps other hard links. */
#define FSB_NOTIFY_F_LINKED	0x0002
/* Resolve dir/dir2 from the dentry cache only (never ask the file
 * server): EAGAIN if that is not enough. */
#define FSB_NOTIFY_F_CACHED	0x0004
/* After raising the events, drop from the dentry cache what the host
 * made stale, so the next lookup asks the file server: DELETE/MOVE the
 * name that went away (and, for MOVE, a different object that was at the
 * new name); CREATE a negative dentry cached at the name, or a file's
 * or symlink's positive one (what the guest holds may be the object the
 * created one replaced). */
#define FSB_NOTIFY_F_DROP	0x0008
#define FSB_NOTIFY_F_ALL	0x000f

struct fsb_notify_rec {
	__u32 size;		/* header + dir_len + name_len + dir2_len + name2_len */
	__u16 kind;		/* enum fsb_notify_kind */
	__u16 flags;		/* FSB_NOTIFY_F_* */
	__u16 dir_len;
	__u16 name_len;
	__u16 dir2_len;		/* MOVE only, else 0 */
	__u16 name2_len;	/* MOVE only, else 0 */
};

#define FSB_NOTIFY_PATH_MAX	4095	/* longest dir, without a NUL */
#define FSB_NOTIFY_NAME_MAX	255
#define FSB_NOTIFY_REC_MAX	(sizeof(struct fsb_notify_rec) + \
				 2 * FSB_NOTIFY_PATH_MAX + 2 * FSB_NOTIFY_NAME_MAX)

#endif /* FSB_NOTIFY_H */
