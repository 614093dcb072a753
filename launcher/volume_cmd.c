/* volume_cmd: the `launch volume` subcommands (the volume directory's
 * images: list, create, remove, export to and import from .zst). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "options.h"
#include "volume.h"
#include "volume_cmd.h"
#include "volume_zst.h"

static int
usage_error(const char *what)
{
	fprintf(stderr, "launch: volume: %s (ls | create NAME SIZE | rm NAME | "
	    "export NAME FILE.zst | import NAME FILE.zst)\n", what);
	return LAUNCH_EXIT_USAGE;
}

static int
fail(const char *what, const char *name, int rc)
{
	fprintf(stderr, "launch: volume %s %s: %s\n", what, name, strerror(-rc));
	return LAUNCH_EXIT_FAIL;
}

static void
human(char *out, size_t size, unsigned long long v)
{
	static const char units[] = "BKMGT";
	int u = 0;

	while (v >= 1024 && v % 1024 == 0 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, size, "%llu%c", v, units[u]);
}

static int
list(void)
{
	char dir[4096], path[4400], size[32], used[32], why[4400];
	struct dirent *e;
	DIR *d;
	int rc = volume_dir(dir, sizeof(dir), why, sizeof(why));

	if (rc != 0) {
		fprintf(stderr, "launch: volume directory: %s\n", why);
		return LAUNCH_EXIT_FAIL;
	}
	d = opendir(dir);
	if (d == NULL)
		return fail("ls", dir, -errno);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		struct stat st;

		if (n < 5 || e->d_name[0] == '.' || strcmp(e->d_name + n - 4, ".img") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0)
			continue;
		human(size, sizeof(size), (unsigned long long)st.st_size);
		human(used, sizeof(used), (unsigned long long)st.st_blocks * 512ull);
		printf("%-20.*s %8s %8s used\n", (int)(n - 4), e->d_name, size, used);
	}
	closedir(d);
	return 0;
}

static int
image_of(const char *name, char *image, size_t size)
{
	char why[4400];
	int rc = volume_image(image, size, name, why, sizeof(why));

	if (rc == -EINVAL)
		fprintf(stderr, "launch: volume %s: %s\n", name, why);
	else if (rc != 0)
		fprintf(stderr, "launch: volume directory: %s\n", why);
	return rc;
}

static int
create(const char *name, const char *size_text)
{
	char image[4096];
	uint64_t size;
	int rc;

	if (volume_parse_size(size_text, &size) != 0)
		return usage_error("bad SIZE (e.g. 10G, 512M)");
	if (image_of(name, image, sizeof(image)) != 0)
		return LAUNCH_EXIT_FAIL;
	rc = volume_create(image, size);
	if (rc == -EEXIST) {
		fprintf(stderr, "launch: volume %s already exists\n", name);
		return LAUNCH_EXIT_FAIL;
	}
	return rc != 0 ? fail("create", name, rc) : 0;
}

/* 0 when no running VM uses the volume, else a message and -EBUSY. */
static int
not_in_use(const char *name, const char *image)
{
	if (volume_busy(image) != 1)
		return 0;
	fprintf(stderr, "launch: volume %s is in use by a running VM (halt it first)\n", name);
	return -EBUSY;
}

static int
remove_volume(const char *name)
{
	char image[4096];

	if (image_of(name, image, sizeof(image)) != 0 || not_in_use(name, image) != 0)
		return LAUNCH_EXIT_FAIL;
	if (unlink(image) != 0) {
		if (errno == ENOENT)
			fprintf(stderr, "launch: volume %s does not exist\n", name);
		else
			return fail("rm", name, -errno);
		return LAUNCH_EXIT_FAIL;
	}
	return 0;
}

static int
transfer(bool export, const char *name, const char *file)
{
	char image[4096];
	int rc;

	if (image_of(name, image, sizeof(image)) != 0 ||
	    (export && not_in_use(name, image) != 0))
		return LAUNCH_EXIT_FAIL;
	rc = export ? volume_export(image, file) : volume_import(file, image);
	if (rc == -EEXIST)
		fprintf(stderr, "launch: volume %s already exists (rm it first)\n", name);
	else if (rc == -ENOENT)
		fprintf(stderr, "launch: %s does not exist\n", export ? image : file);
	else if (rc == -EBADMSG)
		fprintf(stderr, "launch: %s: not a complete zstd stream\n", file);
	else if (rc != 0)
		fprintf(stderr, "launch: volume %s %s %s: %s\n", export ? "export" : "import",
		    name, file, strerror(-rc));
	return rc != 0 ? LAUNCH_EXIT_FAIL : 0;
}

int
volume_cmd(int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : "";

	if (strcmp(verb, "ls") == 0 && argc == 1)
		return list();
	if (strcmp(verb, "create") == 0 && argc == 3)
		return create(argv[1], argv[2]);
	if (strcmp(verb, "rm") == 0 && argc == 2)
		return remove_volume(argv[1]);
	if ((strcmp(verb, "export") == 0 || strcmp(verb, "import") == 0) && argc == 3)
		return transfer(verb[0] == 'e', argv[1], argv[2]);
	return usage_error(argc == 0 ? "what to do?" : "bad arguments");
}
