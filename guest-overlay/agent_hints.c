/*
 * agent_hints: host changes made visible in the guest.  The guest kernel
 * caches names and attributes of a virtio-fs share and cannot be told
 * that the host changed them; the supervisor relays, as HINT frames, the
 * paths the share's file server saw change on the host (fs_hint.c), and
 * for each the agent makes the kernel look again:
 *
 *   - statx(AT_STATX_FORCE_SYNC) of the path: a GETATTR, which refreshes
 *     its attributes (and drops its pages when mtime or size moved) or,
 *     for a file deleted or replaced on the host, is answered ESTALE so
 *     the kernel walks the path again and finds what is there now;
 *   - a listing of its directory (READDIRPLUS), which replaces every
 *     cached entry of it, negative ones too: names created on the host
 *     appear.
 *
 * Hints come in bursts (a git checkout): each is stat'ed at once, the
 * directories are listed once per burst (agent_hints_flush).  Too many
 * directories at once, or an empty hint (the server lost track), drop
 * every cached name and attribute instead (drop_caches).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-overlay/agent.h"

#define HINT_DIRS_MAX 64

static char pending[HINT_DIRS_MAX][4096];
static int npending;
static bool drop_all;

static void
list_dir(const char *path)
{
	DIR *d = opendir(path);

	if (d == NULL)
		return;
	while (readdir(d) != NULL)
		;
	closedir(d);
}

static void
queue_dir(const char *dir)
{
	for (int i = 0; i < npending; i++)
		if (strcmp(pending[i], dir) == 0)
			return;
	if (npending == HINT_DIRS_MAX || strlen(dir) >= sizeof(pending[0])) {
		drop_all = true;
		return;
	}
	strcpy(pending[npending++], dir);
}

void
agent_hint(const unsigned char *payload, size_t len)
{
	char path[4096], *slash;
	struct statx stx;

	if (len < 2 || payload[len - 1] != '\0' || payload[0] != '/' ||
	    len > sizeof(path)) {
		drop_all = true;	/* empty: the server lost track */
		return;
	}
	memcpy(path, payload, len);
	(void)statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_FORCE_SYNC,
	    STATX_BASIC_STATS, &stx);
	slash = strrchr(path, '/');
	if (slash == path)
		queue_dir("/");
	else {
		*slash = '\0';
		queue_dir(path);
	}
}

void
agent_hints_flush(void)
{
	if (drop_all) {
		int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);

		sync();
		if (fd < 0 || write(fd, "2", 1) != 1)
			agent_log("hints: drop_caches: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
	} else {
		for (int i = 0; i < npending; i++)
			list_dir(pending[i]);
	}
	npending = 0;
	drop_all = false;
}
