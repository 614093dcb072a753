/*
 * nfs_backend_test: the NFS backend's operations, called directly against
 * a live export, with TAP output.
 *
 *   nfs_backend_test URL EXPORT_DIR [RESTART_CMD]
 *
 * URL is the export as nfs://...; EXPORT_DIR the same directory seen
 * locally (to make changes "on the server"); RESTART_CMD, if given, is run
 * with system() to restart the server in the reconnect test.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "backend_nfs.h"
#include "inode_table.h"
#include "tests/lib/tap.h"

static struct backend *be;
static struct inode_table table;
static const char *url;
static const char *export_dir;


static void
release_inode(void *ctx, struct inode *in)
{
	if (in->bdata != NULL)
		be->ops->node_release(be, in->bdata);
}

/* Adopt a backend entry as dir/name, like the server does. */
static struct inode *
adopt(struct inode *dir, const char *name, struct backend_entry *e)
{
	struct inode *in;
	bool used;

	in = inode_table_add(&table, dir, name, e->st.st_dev, e->st.st_ino,
	    e->st.st_mode, e->bdata, &used);
	if (!used)
		be->ops->node_release(be, e->bdata);
	return in;
}

static struct inode *
lookup(struct inode *dir, const char *name, int *rc)
{
	struct backend_entry e;

	*rc = be->ops->lookup(be, dir, name, false, &e);
	if (*rc != 0)
		return NULL;
	return adopt(dir, name, &e);
}

static void
local_path(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", export_dir, rel);
}

/* Does the listing of dir hold name (with the right fileid)? */
static bool
listing_has(struct inode *dir, const char *name, uint64_t ino)
{
	struct backend_file f;
	struct backend_dirent ent;
	off_t off = 0;
	bool found = false;

	if (be->ops->opendir(be, dir, &f) != 0)
		return false;
	for (ent.has_entry = false; be->ops->readdir(be, &f, off, &ent) == 1; ent.has_entry = false) {
		if (strcmp(ent.name, name) == 0 && (ino == 0 || ent.ino == ino))
			found = true;
		if (ent.has_entry)
			be->ops->node_release(be, ent.entry.bdata);
		off = ent.next_off;
	}
	be->ops->releasedir(be, &f);
	return found;
}

static void
test_errors(void)
{
	struct backend *b;
	char bad[512];
	int rc;

	rc = backend_nfs_new("nfs:/nope", 1, &b);
	checkf(rc == -EINVAL, "malformed URL: %d (%s)", rc, backend_nfs_last_error());
	rc = backend_nfs_new("nfs://127.0.0.1/share?version=7", 1, &b);
	checkf(rc == -EINVAL, "bad version: %d (%s)", rc, backend_nfs_last_error());
	/* the same URL with the export renamed: URL-no-such-export?QUERY */
	snprintf(bad, sizeof(bad), "%.*s-no-such-export%s", (int)strcspn(url, "?"), url,
	    url + strcspn(url, "?"));
	rc = backend_nfs_new(bad, 1, &b);
	/* an NFSv3 mount daemon answers "access denied" for unknown exports */
	checkf(rc == -ENOENT || (rc == -EACCES && strstr(url, "version=3") != NULL),
	    "missing export: %d (%s)", rc, backend_nfs_last_error());
	rc = backend_nfs_new("nfs://127.0.0.1/x?version=4&nfsport=1", 1, &b);
	checkf(rc == -ECONNREFUSED, "nothing listening: %d (%s)", rc, backend_nfs_last_error());
	rc = backend_nfs_new("nfs://no-such-host.invalid/x?version=4", 1, &b);
	checkf(rc == -EHOSTUNREACH, "unknown host: %d (%s)", rc, backend_nfs_last_error());
}

static void
test_file_io(struct inode *root)
{
	struct backend_cred cred = { getuid(), getgid() };
	struct backend_entry e;
	struct backend_file f;
	struct inode *in, *again;
	char buf[64];
	ssize_t n;
	int rc;

	rc = be->ops->create(be, root, "f", 0644, O_RDWR | O_CREAT | O_EXCL, &cred, &e, &f);
	checkf(rc == 0 && S_ISREG(e.st.st_mode) && f.fd == -1, "create f: %d", rc);
	checkf(rc == 0 && (e.st.st_mode & 07777) == 0644 && e.st.st_uid == getuid(),
	    "f has the mode asked for and our uid: %o uid %u", e.st.st_mode & 07777,
	    (unsigned int)e.st.st_uid);
	if (rc != 0)
		return;
	in = adopt(root, "f", &e);
	n = be->ops->write(be, &f, "hello world", 11, 0);
	checkf(n == 11, "write 11 bytes: %zd", n);
	n = be->ops->read(be, &f, buf, sizeof(buf), 6);
	checkf(n == 5 && memcmp(buf, "world", 5) == 0, "read back at offset 6: %zd", n);
	checkf(be->ops->fsync(be, &f, false) == 0, "fsync");
	checkf(be->ops->lseek(be, &f, 3, SEEK_HOLE) == 11, "SEEK_HOLE is the end");
	be->ops->release(be, &f);
	again = lookup(root, "f", &rc);
	checkf(again == in && again->key_ino == in->key_ino, "lookup gives the same inode (ino %llu)",
	    (unsigned long long)in->key_ino);
	if (again != NULL)
		inode_table_put(&table, again);
	rc = be->ops->open(be, in, O_RDONLY, &f);
	checkf(rc == 0, "open f read-only: %d", rc);
	if (rc == 0) {
		n = be->ops->read(be, &f, buf, sizeof(buf), 0);
		checkf(n == 11 && memcmp(buf, "hello world", 11) == 0, "read whole file: %zd", n);
		be->ops->release(be, &f);
	}
	inode_table_put(&table, in);
}

static void
test_setattr(struct inode *root)
{
	struct backend_setattr sa;
	struct inode *in;
	struct stat st;
	int rc;

	in = lookup(root, "f", &rc);
	if (in == NULL) {
		checkf(false, "lookup f for setattr: %d", rc);
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.valid = FSB_SET_MODE | FSB_SET_SIZE | FSB_SET_MTIME;
	sa.mode = 0600;
	sa.size = 5;
	sa.mtime.tv_sec = 1000000000;
	sa.mtime.tv_nsec = 0;
	rc = be->ops->setattr(be, in, NULL, &sa, &st);
	checkf(rc == 0 && (st.st_mode & 07777) == 0600 && st.st_size == 5 &&
	    st.st_mtim.tv_sec == 1000000000, "setattr mode/size/mtime: %d mode %o size %lld mtime %lld",
	    rc, st.st_mode & 07777, (long long)st.st_size, (long long)st.st_mtim.tv_sec);
	rc = be->ops->getattr(be, in, &st);
	checkf(rc == 0 && st.st_size == 5, "getattr sees it: %d", rc);
	inode_table_put(&table, in);
}

static void
test_dirs(struct inode *root)
{
	struct backend_cred cred = { getuid(), getgid() };
	struct backend_entry e;
	struct inode *d, *f;
	struct stat st;
	int rc;

	rc = be->ops->mkdir(be, root, "d", 0755, &cred, &e);
	checkf(rc == 0 && S_ISDIR(e.st.st_mode), "mkdir d: %d", rc);
	if (rc != 0)
		return;
	d = adopt(root, "d", &e);
	checkf(listing_has(root, "d", d->key_ino), "readdir of the root lists d with its fileid");
	rc = be->ops->rename(be, root, "f", d, "g", 0);
	checkf(rc == 0, "rename f -> d/g: %d", rc);
	f = lookup(d, "g", &rc);
	checkf(f != NULL, "lookup d/g: %d", rc);
	if (f != NULL) {
		inode_table_move(&table, f, d, "g");
		rc = be->ops->getattr(be, f, &st);
		checkf(rc == 0 && st.st_size == 5, "getattr after the move: %d", rc);
		rc = be->ops->link(be, f, root, "hard", &e);
		checkf(rc == 0 && e.st.st_nlink == 2, "link d/g -> hard: %d nlink %lu", rc,
		    rc == 0 ? (unsigned long)e.st.st_nlink : 0ul);
		if (rc == 0)
			be->ops->node_release(be, e.bdata);
		inode_table_put(&table, f);
	}
	rc = be->ops->rename(be, root, "hard", d, "g", RENAME_NOREPLACE);
	checkf(rc == -EEXIST, "rename NOREPLACE onto an existing name: %d", rc);
	rc = be->ops->rmdir(be, root, "d");
	checkf(rc == -ENOTEMPTY || rc == -EEXIST, "rmdir of a full directory fails: %d", rc);
	checkf(be->ops->unlink(be, d, "g") == 0, "unlink d/g");
	checkf(be->ops->unlink(be, root, "hard") == 0, "unlink hard");
	checkf(be->ops->rmdir(be, root, "d") == 0, "rmdir d");
	checkf(be->ops->lookup(be, root, "d", false, &e) == -ENOENT, "d is gone");
	inode_table_put(&table, d);
}

static void
test_symlinks(struct inode *root)
{
	struct backend_cred cred = { getuid(), getgid() };
	struct backend_entry e;
	struct backend_file f;
	char target[PATH_MAX];
	struct inode *l;
	int rc;

	rc = be->ops->symlink(be, root, "l", "../../../etc/passwd", &cred, &e);
	checkf(rc == 0 && S_ISLNK(e.st.st_mode), "symlink l: %d", rc);
	if (rc != 0)
		return;
	l = adopt(root, "l", &e);
	rc = be->ops->readlink(be, l, target, sizeof(target));
	checkf(rc == 0 && strcmp(target, "../../../etc/passwd") == 0, "readlink verbatim: %s", target);
	rc = be->ops->lookup(be, root, "l", false, &e);
	checkf(rc == 0 && S_ISLNK(e.st.st_mode), "lookup does not follow: %d", rc);
	if (rc == 0)
		be->ops->node_release(be, e.bdata);
	rc = be->ops->open(be, l, O_RDONLY, &f);
	checkf(rc == -ELOOP, "opening the link itself is refused (no follow): %d", rc);
	if (rc == 0)
		be->ops->release(be, &f);
	rc = be->ops->create(be, root, "f2", 0600, O_RDWR | O_CREAT | O_TRUNC, &cred, &e, &f);
	if (rc == 0) {
		be->ops->node_release(be, e.bdata);
		be->ops->write(be, &f, "xyz", 3, 0);
		be->ops->release(be, &f);
		rc = be->ops->create(be, root, "f2", 0600, O_RDWR | O_CREAT | O_TRUNC, &cred, &e, &f);
	}
	checkf(rc == 0 && e.st.st_size == 0, "O_CREAT without O_EXCL opens (and truncates) an existing file: %d", rc);
	if (rc == 0) {
		be->ops->node_release(be, e.bdata);
		be->ops->release(be, &f);
	}
	rc = be->ops->create(be, root, "f2", 0600, O_RDWR | O_CREAT | O_EXCL, &cred, &e, &f);
	checkf(rc == -EEXIST, "O_CREAT|O_EXCL on an existing file: %d", rc);
	be->ops->unlink(be, root, "f2");
	rc = be->ops->create(be, root, "l", 0644, O_WRONLY | O_CREAT, &cred, &e, &f);
	checkf(rc != 0, "create through the link is refused: %d", rc);
	if (rc == 0)
		be->ops->release(be, &f);
	checkf(be->ops->unlink(be, root, "l") == 0, "unlink l");
	inode_table_put(&table, l);
}

static void
test_host_changes(struct inode *root)
{
	char path[PATH_MAX], path2[PATH_MAX];
	struct inode *in;
	struct stat st;
	int fd, rc;

	local_path(path, sizeof(path), "host");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		(void)!write(fd, "abc", 3);
		close(fd);
	}
	in = lookup(root, "host", &rc);
	checkf(in != NULL, "a file made on the server is found: %d", rc);
	if (in == NULL)
		return;
	local_path(path2, sizeof(path2), "host.new");
	fd = open(path2, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	rename(path2, path);
	rc = be->ops->getattr(be, in, &st);
	checkf(rc == -ESTALE, "replaced on the server: the old inode is stale: %d", rc);
	unlink(path);
	inode_table_put(&table, in);
}

static void
put_file(const char *rel, const char *content)
{
	char path[PATH_MAX];
	int fd;

	local_path(path, sizeof(path), rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		(void)!write(fd, content, strlen(content));
		close(fd);
	}
}

static ino_t
local_ino(const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	local_path(path, sizeof(path), rel);
	return lstat(path, &st) == 0 ? st.st_ino : 0;
}

/*
 * A directory the client knows is moved away on the server and a symlink
 * to another directory put in its place: requests about the known
 * directory and its entries reach that directory (by its handle) or fail
 * with ESTALE (Ganesha's VFS FSAL does not know the handle of a directory
 * renamed behind its back), never the link's target.
 */
static void
test_swapped_dir(struct inode *root)
{
	struct backend_cred cred = { getuid(), getgid() };
	char path[PATH_MAX], path2[PATH_MAX];
	struct backend_entry e;
	struct inode *d;
	struct stat st;
	int rc;

	local_path(path, sizeof(path), "sw");
	mkdir(path, 0755);
	local_path(path, sizeof(path), "other");
	mkdir(path, 0755);
	put_file("sw/f", "in sw\n");
	put_file("other/f", "in other\n");
	d = lookup(root, "sw", &rc);
	checkf(d != NULL, "[swap] lookup sw: %d", rc);
	if (d == NULL)
		return;
	local_path(path, sizeof(path), "sw");
	local_path(path2, sizeof(path2), "sw.moved");
	rename(path, path2);
	(void)!symlink("other", path);
	rc = be->ops->getattr(be, d, &st);
	checkf((rc == 0 && S_ISDIR(st.st_mode) && st.st_ino == local_ino("sw.moved")) || rc == -ESTALE,
	    "[swap] getattr of the known directory: it, or ESTALE (%d)", rc);
	rc = be->ops->lookup(be, d, "f", false, &e);
	checkf((rc == 0 && e.st.st_ino == local_ino("sw.moved/f")) || rc == -ESTALE,
	    "[swap] lookup in it finds its own entry or ESTALE, not the link target's: %d", rc);
	if (rc == 0)
		be->ops->node_release(be, e.bdata);
	rc = be->ops->mkdir(be, d, "made", 0755, &cred, &e);
	checkf(local_ino("other/made") == 0 && (rc == 0) == (local_ino("sw.moved/made") != 0),
	    "[swap] mkdir in it lands in it or fails, not in the link target: %d", rc);
	if (rc == 0)
		be->ops->node_release(be, e.bdata);
	rc = be->ops->unlink(be, d, "f");
	checkf(local_ino("other/f") != 0 && (rc == 0) == (local_ino("sw.moved/f") == 0),
	    "[swap] unlink in it removes its entry or fails, not the link target's: %d", rc);
	inode_table_put(&table, d);
	unlink(path);
	local_path(path, sizeof(path), "sw.moved/made");
	rmdir(path);
	rmdir(path2);
	local_path(path, sizeof(path), "other/f");
	unlink(path);
	local_path(path, sizeof(path), "other/made");
	rmdir(path);
	local_path(path, sizeof(path), "other");
	rmdir(path);
}

static void *
parallel_worker(void *arg)
{
	struct inode *root = arg;
	struct stat st;
	long bad = 0;
	int i;

	for (i = 0; i < 200; i++)
		if (be->ops->getattr(be, root, &st) != 0)
			bad++;
	return (void *)bad;
}

static void
test_parallel(struct inode *root)
{
	pthread_t th[8];
	void *res;
	long bad = 0;
	int i;

	for (i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, parallel_worker, root);
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], &res);
		bad += (long)res;
	}
	checkf(bad == 0, "8 threads x 200 getattr in parallel: %ld failures", bad);
}

static void
test_statfs(struct inode *root)
{
	struct statvfs sv;
	int rc;

	rc = be->ops->statfs(be, root, &sv);
	checkf(rc == 0 && sv.f_blocks > 0 && sv.f_bsize > 0, "statfs: %d", rc);
}

#define LIST_FILES 600

/* Entry i of the big directory: a long name, i % 50 bytes. */
static void
list_name(char *buf, size_t len, unsigned int i)
{
	snprintf(buf, len, "%04u-%0200u", i, i);
}

/*
 * A directory listed by many READDIR pages: every name once, each with
 * its attributes and a node that works; a seek back to a position gives
 * the entry it gave before; a rewind sees a file made since.
 */
static void
test_listing(struct inode *root)
{
	char path[PATH_MAX], name[256], mid_name[256] = "";
	static bool seen[LIST_FILES + 1];
	struct backend_dirent ent;
	struct backend_file f;
	struct inode *dir, *in;
	unsigned int i, count = 0, with_attrs = 0, bad = 0;
	off_t off = 0, mid_off = 0;
	struct stat st;
	int rc, fd;

	local_path(path, sizeof(path), "many");
	if (mkdir(path, 0755) != 0) {
		checkf(false, "mkdir many in the export: %s", strerror(errno));
		return;
	}
	for (i = 0; i < LIST_FILES; i++) {
		list_name(name, sizeof(name), i);
		snprintf(path, sizeof(path), "%s/many/%s", export_dir, name);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
		if (fd < 0 || write(fd, "0123456789012345678901234567890123456789012345678901", i % 50) !=
		    (ssize_t)(i % 50))
			bad++;
		if (fd >= 0)
			close(fd);
	}
	checkf(bad == 0, "%u files with 205-byte names made in the export", LIST_FILES);
	dir = lookup(root, "many", &rc);
	checkf(dir != NULL, "lookup many: %d", rc);
	if (dir == NULL)
		return;
	rc = be->ops->opendir(be, dir, &f);
	checkf(rc == 0, "opendir many: %d", rc);
	if (rc != 0)
		goto out;
	for (ent.has_entry = false; (rc = be->ops->readdir(be, &f, off, &ent)) == 1;
	    ent.has_entry = false) {
		off = ent.next_off;
		if (strcmp(ent.name, ".") == 0 || strcmp(ent.name, "..") == 0)
			continue;
		count++;
		i = (unsigned int)atoi(ent.name);
		list_name(name, sizeof(name), i);
		if (i >= LIST_FILES || strcmp(name, ent.name) != 0 || seen[i])
			bad++;
		else
			seen[i] = true;
		if (count == LIST_FILES / 2) {
			mid_off = off - 1;
			strcpy(mid_name, ent.name);
		}
		if (ent.has_entry) {
			if (S_ISREG(ent.entry.st.st_mode) && ent.entry.st.st_size == i % 50 &&
			    (ent.entry.st.st_mode & 07777) == 0640 && ent.ino == ent.entry.st.st_ino)
				with_attrs++;
			if (i == 7 && (in = adopt(dir, ent.name, &ent.entry)) != NULL) {
				rc = be->ops->getattr(be, in, &st);
				checkf(rc == 0 && st.st_ino == in->key_ino && st.st_size == 7,
				    "getattr of a node a listing made: %d", rc);
				inode_table_put(&table, in);
			} else
				be->ops->node_release(be, ent.entry.bdata);
		}
	}
	checkf(rc == 0 && count == LIST_FILES && bad == 0,
	    "readdir lists each of the %u names once: %u listed, %u wrong, rc %d",
	    LIST_FILES, count, bad, rc);
	checkf(with_attrs == LIST_FILES, "each entry comes with its attributes: %u", with_attrs);
	ent.has_entry = false;
	rc = be->ops->readdir(be, &f, mid_off, &ent);
	checkf(rc == 1 && strcmp(ent.name, mid_name) == 0,
	    "readdir back at position %lld gives the same entry", (long long)mid_off);
	if (rc == 1 && ent.has_entry)
		be->ops->node_release(be, ent.entry.bdata);
	snprintf(path, sizeof(path), "%s/many/late", export_dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
	off = 0;
	bad = 1;
	for (ent.has_entry = false; be->ops->readdir(be, &f, off, &ent) == 1; ent.has_entry = false) {
		if (strcmp(ent.name, "late") == 0)
			bad = 0;
		if (ent.has_entry)
			be->ops->node_release(be, ent.entry.bdata);
		off = ent.next_off;
	}
	checkf(bad == 0, "a rewind lists a file made since the open");
	be->ops->releasedir(be, &f);
out:
	inode_table_put(&table, dir);
	snprintf(path, sizeof(path), "rm -rf '%s/many'", export_dir);
	if (system(path) != 0)
		checkf(false, "remove many");
}

static void
test_reconnect(struct inode *root, const char *restart)
{
	struct backend_cred cred = { getuid(), getgid() };
	struct backend_entry e;
	struct backend_file f;
	struct stat st;
	char buf[16];
	ssize_t n;
	int rc;

	rc = be->ops->create(be, root, "r", 0644, O_RDWR | O_CREAT, &cred, &e, &f);
	if (rc != 0) {
		checkf(false, "create r for the reconnect test: %d", rc);
		return;
	}
	be->ops->node_release(be, e.bdata);
	n = be->ops->write(be, &f, "restart", 7, 0);
	rc = system(restart);
	checkf(rc == 0 && n == 7, "server restarted (%s)", restart);
	n = be->ops->read(be, &f, buf, sizeof(buf), 0);
	if (n < 0)		/* one EIO is allowed; then it must work */
		n = be->ops->read(be, &f, buf, sizeof(buf), 0);
	checkf(n == 7 && memcmp(buf, "restart", 7) == 0, "read on an open file after the restart: %zd", n);
	rc = be->ops->getattr(be, root, &st);
	if (rc != 0)
		rc = be->ops->getattr(be, root, &st);
	checkf(rc == 0, "getattr after the restart: %d", rc);
	be->ops->release(be, &f);
	checkf(be->ops->unlink(be, root, "r") == 0, "unlink r");
}

int
main(int argc, char **argv)
{
	struct backend_entry root;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: nfs_backend_test URL EXPORT_DIR [RESTART_CMD]\n");
		return 2;
	}
	url = argv[1];
	export_dir = argv[2];
	test_errors();
	rc = backend_nfs_new(url, 4, &be);
	checkf(rc == 0, "connect to %s: %d %s", url, rc, rc != 0 ? backend_nfs_last_error() : "");
	if (rc != 0) {
		printf("1..%d\n", tap_test_no);
		return 1;
	}
	rc = be->ops->root(be, &root);
	checkf(rc == 0 && S_ISDIR(root.st.st_mode), "root is a directory: %d", rc);
	if (rc != 0) {
		printf("1..%d\n", tap_test_no);
		return 1;
	}
	inode_table_init(&table, root.st.st_dev, root.st.st_ino, root.bdata, release_inode, NULL);
	be->ops->attach(be, &table);
	test_file_io(table.root);
	test_setattr(table.root);
	test_dirs(table.root);
	test_symlinks(table.root);
	test_host_changes(table.root);
	test_swapped_dir(table.root);
	test_parallel(table.root);
	test_statfs(table.root);
	test_listing(table.root);
	if (argc > 3)
		test_reconnect(table.root, argv[3]);
	inode_table_destroy(&table);
	be->ops->destroy(be);
	return tap_done();
}
