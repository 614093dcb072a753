/*
 * fs_passthrough: the core's side of FUSE passthrough (see
 * fs_passthrough.h): per inode, one backing file shared by its
 * passthrough opens, registered at the first and closed at the last.
 *
 * What the kernel then does without us, and why the policy still holds:
 * the backing file is the host file this server opened after every
 * check of OPEN or CREATE (type, read-only share, id-mapped access,
 * hidden subtrees: a hidden or refused file never gets here), opened
 * again by the kernel with the client's flags.  read, write, splice and
 * mmap on that open go to it; everything else (getattr, setattr and
 * truncation, fsync, fallocate, lseek, copy_file_range, xattrs) still
 * comes to the server.  Per-write work moves with it: the host file
 * system clears setuid/setgid itself, as the backing file's credentials
 * lack CAP_FSETID (fuse_passthrough.c), and setuid/setgid files are not
 * passed through at all.  Host edits: data is read from the host file,
 * so never stale; attributes are invalidated by the watcher as before.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "fs_int.h"
#include "fs_passthrough.h"
#include "log.h"

void
fs_passthrough_prepare(struct share *sh)
{
	sh->no_open = false;
	sh->writeback = false;
}

int
fs_passthrough_take(struct share *sh, struct inode *in, const struct backend_file *bf,
    const struct stat *st)
{
	struct fs_passthrough *pt = sh->passthrough;
	int id;

	if (pt == NULL || bf->fd < 0 || !S_ISREG(in->type))
		return 0;
	if (in->backing_opens > 0) {
		in->backing_opens++;
		pt->opens++;
		return in->backing_id;
	}
	/* ordinary opens of it exist, or bits a write must clear here */
	if (in->opens > 0 || pt->broken || st == NULL || (st->st_mode & (S_ISUID | S_ISGID)))
		return 0;
	id = pt->backing_open(pt->ctx, bf->fd);
	if (id < 0) {
		if (id == -EPERM || id == -ELOOP || id == -EOPNOTSUPP || id == -ENOTTY) {
			pt->broken = true;
			if (pt->required)
				log_error("passthrough=on: the kernel refuses backing files here: %s "
				    "(files are served without passthrough)", strerror(-id));
			else
				log_debug("passthrough: off (backing file: %s)", strerror(-id));
		} else {
			log_debug("passthrough: node %llu served without it (backing file: %s)",
			    (unsigned long long)in->nodeid, strerror(-id));
		}
		return 0;
	}
	in->backing_id = id;
	in->backing_opens = 1;
	pt->opens++;
	log_debug("passthrough: node %llu on backing file %d", (unsigned long long)in->nodeid, id);
	return id;
}

void
fs_passthrough_drop(struct share *sh, struct inode *in)
{
	struct fs_passthrough *pt = sh->passthrough;

	if (in->backing_opens == 0 || --in->backing_opens > 0)
		return;
	if (pt != NULL)
		pt->backing_close(pt->ctx, in->backing_id);
	in->backing_id = 0;
}
