/*
 * warm_store: the saved VM states of a state dir: their keys (what a
 * state depends on), the header written last, finding the newest one
 * that matches (removing the rest, each with one line why), and saving
 * one without ever leaving half of it under its name.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guest-overlay/contract/fdio.h"
#include "state_dir.h"
#include "warm_copy.h"
#include "warm_store.h"

#define HEADER_MAGIC "fsbridge-warm-state 1\n"

void
warm_key_line(char *key, size_t size, const char *word, const char *value)
{
	strlcat(key, word, size);
	strlcat(key, " ", size);
	strlcat(key, value, size);
	strlcat(key, "\n", size);
}

void
warm_key_file(char *key, size_t size, const char *word, const char *path)
{
	char v[4400];
	struct stat st;

	if (stat(path, &st) == 0)
		snprintf(v, sizeof(v), "%s %lld %lld.%09ld", path, (long long)st.st_size,
		    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	else
		snprintf(v, sizeof(v), "%s missing", path);
	warm_key_line(key, size, word, v);
}

int
warm_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= WARM_NAME_MAX || name[0] == '.')
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int
warm_path(char *out, size_t size, const char *state, const char *name, const char *file)
{
	int n = snprintf(out, size, "%s/" WARM_DIR "%s%s%s%s", state, name ? "/" : "",
	    name ? name : "", file ? "/" : "", file ? file : "");

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int
warm_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	return rmdir(dir) == 0 ? 0 : -errno;
}

/* The whole header (at most WARM_KEY_MAX + a little) into text. */
static int
read_header(const char *dir, char *text, size_t size)
{
	char path[4200];
	int fd, rc;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/" WARM_HEADER, dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, size - 1);
	rc = n < 0 ? -errno : 0;
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return rc;
}

int
warm_header_field(const char *dir, const char *word, char *out, size_t size)
{
	static char text[WARM_KEY_MAX + 1024];
	size_t wl = strlen(word);

	if (read_header(dir, text, sizeof(text)) != 0)
		return -ENOENT;
	for (char *l = text; *l != '\0';) {
		char *nl = strchr(l, '\n');

		if (nl == NULL)
			break;
		if (strncmp(l, word, wl) == 0 && l[wl] == ' ') {
			snprintf(out, size, "%.*s", (int)(nl - l - (long)wl - 1), l + wl + 1);
			return 0;
		}
		l = nl + 1;
	}
	return -ENOENT;
}

/* The first word of the first line where a and b differ. */
static void
first_difference(const char *a, const char *b, char *word, size_t size)
{
	while (*a != '\0' && *a == *b) {
		const char *na = strchr(a, '\n'), *nb = strchr(b, '\n');

		if (na == NULL || nb == NULL || na - a != nb - b || strncmp(a, b, (size_t)(na - a)) != 0)
			break;
		a = na + 1;
		b = nb + 1;
	}
	snprintf(word, size, "%.*s", (int)strcspn(a, " \n"), a);
}

/* Why dir (a saved state) cannot be used for key, or "" when it can;
 * *saved is its time. */
static void
check_state(const char *dir, const char *key, char *why, size_t size, long long *saved)
{
	static char text[WARM_KEY_MAX + 1024];
	char path[4600], hash[WARM_HASH_HEX], field[200], want[WARM_HASH_HEX], word[64];
	long long len = -1;
	struct stat st;
	size_t kl = strlen(key);

	why[0] = '\0';
	if (read_header(dir, text, sizeof(text)) != 0 ||
	    strncmp(text, HEADER_MAGIC, strlen(HEADER_MAGIC)) != 0 ||
	    strstr(text, "\nend\n") == NULL) {
		snprintf(why, size, "incomplete or unreadable header");
		return;
	}
	if (strncmp(text + strlen(HEADER_MAGIC), key, kl) != 0 ||
	    strncmp(text + strlen(HEADER_MAGIC) + kl, "vmstate ", 8) != 0) {
		first_difference(text + strlen(HEADER_MAGIC), key, word, sizeof(word));
		snprintf(why, size, "made for another %s", word);
		return;
	}
	if (warm_header_field(dir, "saved", field, sizeof(field)) == 0)
		*saved = atoll(field);
	if (warm_header_field(dir, "vmstate", field, sizeof(field)) != 0 ||
	    sscanf(field, "%lld %64s", &len, want) != 2) {
		snprintf(why, size, "no vmstate checksum in its header");
		return;
	}
	snprintf(path, sizeof(path), "%s/" WARM_VMSTATE, dir);
	if (stat(path, &st) != 0 || st.st_size != len || warm_hash_file(path, hash) != 0 ||
	    strcmp(hash, want) != 0) {
		snprintf(why, size, "corrupt: vmstate does not match its checksum");
		return;
	}
	snprintf(path, sizeof(path), "%s/" WARM_MEM, dir);
	if (warm_header_field(dir, "ram", field, sizeof(field)) != 0 ||
	    sscanf(field, "%lld", &len) != 1 || stat(path, &st) != 0 || st.st_size != len)
		snprintf(why, size, "corrupt: its RAM file is missing or not of its size");
}

int
warm_find(const char *state, const char *key, char *name, size_t size,
    void (*say)(void *arg, const char *line), void *arg)
{
	char top[4200], dir[4500], why[256], line[800];
	long long best = -1;
	struct dirent *e;
	DIR *d;

	if (warm_path(top, sizeof(top), state, NULL, NULL) != 0 || (d = opendir(top)) == NULL)
		return -ENOENT;
	while ((e = readdir(d)) != NULL) {
		long long saved = 0;

		if (e->d_name[0] == '.') {
			/* a save that never finished (no VM saves while we run) */
			if (strncmp(e->d_name, ".new-", 5) == 0) {
				snprintf(dir, sizeof(dir), "%s/%s", top, e->d_name);
				warm_remove_dir(dir);
			}
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/%s", top, e->d_name);
		check_state(dir, key, why, sizeof(why), &saved);
		if (why[0] != '\0') {
			snprintf(line, sizeof(line), "saved state %s: %s; removed", e->d_name, why);
			say(arg, line);
			warm_remove_dir(dir);
			continue;
		}
		if (saved > best) {
			best = saved;
			snprintf(name, size, "%s", e->d_name);
		}
	}
	closedir(d);
	return best < 0 ? -ENOENT : 0;
}

int
warm_begin(const char *state, const char *name, char *tmp, size_t size)
{
	char top[4200], sub[128];

	if (warm_path(top, sizeof(top), state, NULL, NULL) != 0)
		return -ENAMETOOLONG;
	if (mkdir(top, 0700) != 0 && errno != EEXIST)
		return -errno;
	snprintf(sub, sizeof(sub), ".new-%s-%d", name, (int)getpid());
	if (warm_path(tmp, size, state, sub, NULL) != 0)
		return -ENAMETOOLONG;
	warm_remove_dir(tmp);
	return mkdir(tmp, 0700) == 0 ? 0 : -errno;
}

static int
fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int
write_header(const char *tmp, const char *key, const char *ram_hash)
{
	static char text[WARM_KEY_MAX + 1024];
	char path[4400], final[4400], hash[WARM_HASH_HEX], line[300];
	struct stat vs, ms;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/" WARM_VMSTATE, tmp);
	if (stat(path, &vs) != 0)
		return -errno;
	if (vs.st_size == 0)
		return -ENODATA;   /* QEMU hangs on an empty stream: never save one */
	if ((rc = warm_hash_file(path, hash)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/" WARM_MEM, tmp);
	if (stat(path, &ms) != 0)
		return -errno;
	snprintf(text, sizeof(text), "%s%s", HEADER_MAGIC, key);
	snprintf(line, sizeof(line), "vmstate %lld %s\nram %lld %s\nsaved %lld\nend\n",
	    (long long)vs.st_size, hash, (long long)ms.st_size, ram_hash, (long long)time(NULL));
	strlcat(text, line, sizeof(text));
	snprintf(path, sizeof(path), "%s/" WARM_HEADER ".tmp", tmp);
	snprintf(final, sizeof(final), "%s/" WARM_HEADER, tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, text, strlen(text));
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(path, final) != 0)
		rc = -errno;
	return rc;
}

int
warm_commit(const char *state, const char *name, const char *tmp, const char *key,
    const char *ram_hash)
{
	char final[4200], old[4300], top[4200], path[4400];
	int rc;

	snprintf(path, sizeof(path), "%s/" WARM_VMSTATE, tmp);
	rc = fsync_path(path, 0);
	snprintf(path, sizeof(path), "%s/" WARM_MEM, tmp);
	if (rc == 0 && chmod(path, 0400) != 0)
		rc = -errno;
	if (rc == 0)
		rc = write_header(tmp, key, ram_hash);
	if (rc == 0)
		rc = fsync_path(tmp, O_DIRECTORY);
	if (rc == 0 && (rc = warm_path(final, sizeof(final), state, name, NULL)) == 0) {
		snprintf(old, sizeof(old), "%s.old-%d", tmp, (int)getpid());
		if (rename(final, old) == 0)
			warm_remove_dir(old);
		if (rename(tmp, final) != 0)
			rc = -errno;
	}
	if (rc == 0 && warm_path(top, sizeof(top), state, NULL, NULL) == 0)
		fsync_path(top, O_DIRECTORY);
	if (rc != 0)
		warm_remove_dir(tmp);
	return rc;
}
