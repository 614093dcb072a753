/* volume_cmd: the `launch volume` subcommands (the volume directory's
 * images: list, create, remove, export to and import from .zst). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
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
	    "export NAME FILE.zst | import [--size LIMIT] NAME FILE.zst)\n", what);
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
transfer(bool export, const char *name, const char *file, uint64_t limit)
{
	char image[4096];
	int rc;

	if (image_of(name, image, sizeof(image)) != 0 ||
	    (export && not_in_use(name, image) != 0))
		return LAUNCH_EXIT_FAIL;
	rc = export ? volume_export(image, file) : volume_import(file, image, limit);
	if (rc == -EEXIST && export)
		fprintf(stderr, "launch: %s already exists (export never replaces a file)\n", file);
	else if (rc == -EEXIST)
		fprintf(stderr, "launch: volume %s already exists (rm it first)\n", name);
	else if (rc == -EFBIG)
		fprintf(stderr, "launch: %s: the image would be larger than %s (refused)\n", file,
		    limit != 0 ? "--size" : "the size the stream declares");
	else if (rc == -ENODATA)
		fprintf(stderr, "launch: %s declares no image size; give the largest you "
		    "accept with --size (e.g. --size 8G)\n", file);
	else if (rc == -ENOENT)
		fprintf(stderr, "launch: %s does not exist\n", export ? image : file);
	else if (rc == -EBADMSG)
		fprintf(stderr, "launch: %s: not a complete zstd stream\n", file);
	else if (rc != 0)
		fprintf(stderr, "launch: volume %s %s %s: %s\n", export ? "export" : "import",
		    name, file, strerror(-rc));
	return rc != 0 ? LAUNCH_EXIT_FAIL : 0;
}

/* The words after the verb (argv[0]) into w (at most max), options
 * anywhere among them (--size LIMIT); their count, or -1 after a message. */
static int
volume_words(int argc, char **argv, char **w, int max, uint64_t *limit)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c, n = 0;

	opterr = 0;
	optind = 0;         /* a fresh scan; getopt skips argv[0], the verb */
	while ((c = getopt_long(argc, argv, "-:", longopts, NULL)) != -1) {
		if (c == 1 && n < max) {
			w[n++] = optarg;
		} else if (c == 1) {
			usage_error("too many arguments");
			return -1;
		} else if (c == 's' && volume_parse_size(optarg, limit) == 0) {
			continue;
		} else {
			usage_error(c == 's' ? "bad --size (e.g. 10G, 512M)" : c == ':' ?
			    "--size needs a value" : "unknown option");
			return -1;
		}
	}
	for (; optind < argc && n < max; optind++)   /* the words after "--" */
		w[n++] = argv[optind];
	return optind < argc ? (usage_error("too many arguments"), -1) : n;
}

int
volume_cmd(int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : "";
	char *w[4];
	uint64_t limit = 0;
	int n = argc > 0 ? volume_words(argc, argv, w, 4, &limit) : 0;

	if (n < 0)
		return LAUNCH_EXIT_USAGE;
	if (limit != 0 && strcmp(verb, "import") != 0)
		return usage_error("--size is for import");
	if (strcmp(verb, "ls") == 0 && n == 0)
		return list();
	if (strcmp(verb, "create") == 0 && n == 2)
		return create(w[0], w[1]);
	if (strcmp(verb, "rm") == 0 && n == 1)
		return remove_volume(w[0]);
	if ((strcmp(verb, "export") == 0 || strcmp(verb, "import") == 0) && n == 2)
		return transfer(verb[0] == 'e', w[0], w[1], limit);
	return usage_error(argc == 0 ? "what to do?" : "bad arguments");
}
