/*
 * watch_probe: an inotify watcher for tests/launch/watch.sh and
 * bench/run-watch.sh, run in the guest (or on the host, for the bench's
 * reference column).  Prints one line per event, flushed at once:
 *
 *   PATH MASK COOKIE        PATH: the watch's path, "/NAME" if named;
 *                           MASK: IN_* names joined by '|'
 *
 * and "READY" once every watch is set.  Exits 0 when a file named
 * watch-probe.stop appears in a watched directory (after printing its
 * event and "BYE"), or after -t SECONDS (default 300).
 *
 * usage: watch_probe [-r] [-t SECONDS] [-g FILE] [-f FILE]... DIR...
 *   -r  recursive: every directory below each DIR too, and directories
 *       created or moved in later (as a recursive watcher library does)
 *   -f  watch FILE itself (IN_DELETE_SELF, IN_MOVE_SELF, IN_ATTRIB)
 *   -g  read no event until FILE exists (looked for every 100 ms): a
 *       watcher too busy to read, whose queue can overflow
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | \
	IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)
#define MAX_WATCHES 65536

static char *paths[MAX_WATCHES];	/* by watch descriptor */
static bool recursive;
static int ifd;

static const struct { uint32_t bit; const char *name; } names[] = {
	{ IN_CREATE, "CREATE" }, { IN_DELETE, "DELETE" }, { IN_MODIFY, "MODIFY" },
	{ IN_ATTRIB, "ATTRIB" }, { IN_CLOSE_WRITE, "CLOSE_WRITE" },
	{ IN_MOVED_FROM, "MOVED_FROM" }, { IN_MOVED_TO, "MOVED_TO" },
	{ IN_DELETE_SELF, "DELETE_SELF" }, { IN_MOVE_SELF, "MOVE_SELF" },
	{ IN_IGNORED, "IGNORED" }, { IN_Q_OVERFLOW, "Q_OVERFLOW" },
	{ IN_ISDIR, "ISDIR" },
};

static void
add(const char *path, bool is_dir)
{
	int wd = inotify_add_watch(ifd, path, MASK | (is_dir ? IN_ONLYDIR : 0));
	DIR *d;
	struct dirent *e;

	if (wd < 0) {
		fprintf(stderr, "watch_probe: %s: %s\n", path, strerror(errno));
		return;
	}
	if (wd >= MAX_WATCHES)
		return;
	free(paths[wd]);
	paths[wd] = strdup(path);
	if (!is_dir || !recursive || (d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char sub[PATH_MAX];

		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < (int)sizeof(sub))
			add(sub, true);
	}
	closedir(d);
}

/* Prints one event; true when it was the stop file's. */
static bool
show(const struct inotify_event *ie)
{
	const char *base = ie->wd >= 0 && ie->wd < MAX_WATCHES && paths[ie->wd] ?
	    paths[ie->wd] : "?";
	char mask[256] = "";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(ie->mask & names[i].bit))
			continue;
		if (mask[0] != '\0')
			strcat(mask, "|");
		strcat(mask, names[i].name);
	}
	/* a new directory is watched before its event is shown: whoever
	 * reads the line may write in it at once */
	if (recursive && (ie->mask & IN_ISDIR) && (ie->mask & (IN_CREATE | IN_MOVED_TO)) &&
	    ie->len) {
		char sub[PATH_MAX];

		if (snprintf(sub, sizeof(sub), "%s/%s", base, ie->name) < (int)sizeof(sub))
			add(sub, true);
	}
	printf("%s%s%s %s %u\n", ie->mask & IN_Q_OVERFLOW ? "-" : base,
	    ie->len ? "/" : "", ie->len ? ie->name : "", mask, ie->cookie);
	fflush(stdout);
	return ie->len && strcmp(ie->name, "watch-probe.stop") == 0 &&
	    (ie->mask & (IN_CREATE | IN_MOVED_TO));
}

int
main(int argc, char **argv)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	double limit = 300;
	const char *go = NULL;
	time_t end;
	int c;

	ifd = inotify_init1(IN_CLOEXEC);
	if (ifd < 0) {
		perror("watch_probe: inotify_init1");
		return 1;
	}
	while ((c = getopt(argc, argv, "rt:f:g:")) != -1) {
		switch (c) {
		case 'r': recursive = true; break;
		case 't': limit = atof(optarg); break;
		case 'f': add(optarg, false); break;
		case 'g': go = optarg; break;
		default:
			fprintf(stderr, "usage: watch_probe [-r] [-t SECONDS] [-g FILE] [-f FILE]... DIR...\n");
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		add(argv[i], true);
	printf("READY\n");
	fflush(stdout);
	end = time(NULL) + (time_t)limit;
	while (go != NULL && access(go, F_OK) != 0 && time(NULL) < end)
		usleep(100000);
	while (time(NULL) < end) {
		struct pollfd pfd = { .fd = ifd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		n = read(ifd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ie = (const void *)p;

			if (show(ie)) {
				printf("BYE\n");
				return 0;
			}
			p += sizeof(*ie) + ie->len;
		}
	}
	return 1;
}
