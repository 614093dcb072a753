/*
 * outfile: write a file so that its name only ever shows a complete file:
 * the data goes to an unnamed (O_TMPFILE) or temporary file in the same
 * directory, which is renamed over the name once complete.  A failure or
 * a killed process leaves no partial output under the final name.
 */
#ifndef GUEST_OVERLAY_OUTFILE_H
#define GUEST_OVERLAY_OUTFILE_H

struct outfile {
	int fd;
	char *path;  /* the final name */
	char *tmp;   /* the temporary name, or NULL while unnamed */
};

/* Opens the file to write (mode 0644 before the umask); -errno. */
int outfile_open(struct outfile *o, const char *path);
/* Flushes it to disk and gives it its final name; -errno. */
int outfile_commit(struct outfile *o);
/* Drops whatever was written unless committed; always safe to call. */
void outfile_discard(struct outfile *o);

#endif
