/*
 * mkinitramfs: fsbridge-mkinitramfs, the guest image builder.  Picks the
 * guest kernel, resolves the closure of the modules the guest needs, and
 * writes a zstd-compressed newc cpio: /init (the static fsbridge-init),
 * /dev/console, /proc, /sys, the modules under /lib/modules/VERSION,
 * their load order in /etc/modules.order (then the out-of-tree modules
 * given with --add-module), and the host files given with -a.  See
 * fsbridge-mkinitramfs(1).
 */
#include "config.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "guest-overlay/image/cpio.h"
#include "guest-overlay/image/hostpath.h"
#include "guest-overlay/image/kernel.h"
#include "guest-overlay/image/kofile.h"
#include "guest-overlay/image/modules.h"
#include "guest-overlay/image/outfile.h"
#include "guest-overlay/image/relocate.h"
#include "guest-overlay/image/static_elf.h"
#include "guest-overlay/image/zsink.h"

#ifndef FSB_PKGLIBEXECDIR
#define FSB_PKGLIBEXECDIR "/usr/local/libexec/fsbridge"
#endif
#ifndef FSB_BINDIR
#define FSB_BINDIR "/usr/local/bin"
#endif

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define INIT_NAME "fsbridge-init"
#define MODULES_ORDER "/etc/modules.order"
#define ZSTD_LEVEL 19

/* What the guest needs: virtio transports (PCI for -M pc/q35, MMIO for
 * -M microvm), virtio-fs, block and console devices, overlayfs. */
static const char *const default_modules[] = {
	"virtio_pci", "virtio_mmio", "virtiofs", "fuse", "virtio_blk",
	"virtio_console", "overlay",
};

struct addition {
	char *host;
	const char *image;
};

struct options {
	struct kernel_request kernel;
	const char *init;
	const char *output;
	const char **modules;
	size_t nmodules;
	const char **kos;	/* --add-module FILE.ko */
	size_t nkos;
	struct addition *adds;
	size_t nadds;
	bool no_default_modules;
	bool quiet;
	bool print_kernel;
	bool print_init;
};

struct counts {
	unsigned modules;
	unsigned builtin;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: fsbridge-mkinitramfs [-k VERSION] [--kernel IMAGE] [--moddir DIR]\n"
	    "           [-m MODULE]... [--no-default-modules] [--add-module FILE.ko]...\n"
	    "           [-a HOST_PATH:IMAGE_PATH]...\n"
	    "           [--init PATH] [-q] -o OUTPUT.cpio.zst\n"
	    "       fsbridge-mkinitramfs [-k VERSION] [--kernel IMAGE] --print-kernel\n"
	    "       fsbridge-mkinitramfs [--init PATH] --print-init\n"
	    "\n"
	    "Build the fsbridge guest initramfs (zstd-compressed newc cpio).\n"
	    "  -k, --kernel-version V  build for kernel V (/lib/modules/V)\n"
	    "      --kernel IMAGE      build for /boot/vmlinuz-V (default: the newest\n"
	    "                          /boot/vmlinuz-* that has /lib/modules/V/modules.dep)\n"
	    "      --moddir DIR        take the modules from DIR, not /lib/modules/V\n"
	    "  -m, --module NAME       also include module NAME and what it needs\n"
	    "      --no-default-modules  only the modules given with -m\n"
	    "      --add-module FILE   also an out-of-tree module (.ko, .ko.zst, .ko.xz),\n"
	    "                          loaded after the others; name what it needs with -m\n"
	    "  -a, --add HOST:IMAGE    copy a host file or tree to IMAGE (absolute)\n"
	    "      --init PATH         the static init (default: " INIT_NAME " next to\n"
	    "                          this program, else " FSB_PKGLIBEXECDIR "/" INIT_NAME ")\n"
	    "  -o, --output FILE       where to write the image\n"
	    "  -q, --quiet             no summary on stderr\n"
	    "      --print-kernel      print the kernel image path and exit\n"
	    "      --print-init        print the init's path and exit\n"
	    "  -h, --help              this text\n"
	    "\n"
	    "Default modules: virtio_pci virtio_mmio virtiofs fuse virtio_blk\n"
	    "virtio_console overlay.  See fsbridge-mkinitramfs(1).\n");
}

/* "HOST:IMAGE", split at the last colon; IMAGE must be absolute. */
static int
parse_add(const char *arg, struct addition *a)
{
	const char *colon = strrchr(arg, ':');

	if (colon == NULL || colon == arg || colon[1] != '/') {
		warnx("-a %s: expected HOST_PATH:/IMAGE_PATH", arg);
		return -EINVAL;
	}
	a->host = strndup(arg, (size_t)(colon - arg));
	a->image = colon + 1;
	return a->host ? 0 : -ENOMEM;
}

static int
push(void **v, size_t *n, size_t size)
{
	void *nv = reallocarray(*v, *n + 1, size);

	if (nv == NULL)
		return -ENOMEM;
	memset((char *)nv + *n * size, 0, size);
	*v = nv;
	(*n)++;
	return 0;
}

static void
free_options(struct options *o)
{
	size_t i;

	for (i = 0; i < o->nadds; i++)
		free(o->adds[i].host);
	free(o->adds);
	free(o->modules);
	free(o->kos);
}

enum {
	OPT_KERNEL = 256, OPT_MODDIR, OPT_INIT, OPT_NO_DEFAULTS, OPT_PRINT_KERNEL,
	OPT_ADD_MODULE, OPT_PRINT_INIT,
};

static const struct option long_options[] = {
	{ "kernel-version", required_argument, NULL, 'k' },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "moddir", required_argument, NULL, OPT_MODDIR },
	{ "module", required_argument, NULL, 'm' },
	{ "no-default-modules", no_argument, NULL, OPT_NO_DEFAULTS },
	{ "add-module", required_argument, NULL, OPT_ADD_MODULE },
	{ "add", required_argument, NULL, 'a' },
	{ "init", required_argument, NULL, OPT_INIT },
	{ "output", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "print-kernel", no_argument, NULL, OPT_PRINT_KERNEL },
	{ "print-init", no_argument, NULL, OPT_PRINT_INIT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

#define GO_ON (-1)

/* One option; returns GO_ON, or the exit status to leave with. */
static int
take_option(int ch, const char *arg, struct options *o)
{
	switch (ch) {
	case 'k': o->kernel.version = arg; return GO_ON;
	case OPT_KERNEL: o->kernel.image = arg; return GO_ON;
	case OPT_MODDIR: o->kernel.moddir = arg; return GO_ON;
	case OPT_INIT: o->init = arg; return GO_ON;
	case OPT_NO_DEFAULTS: o->no_default_modules = true; return GO_ON;
	case OPT_PRINT_KERNEL: o->print_kernel = true; return GO_ON;
	case OPT_PRINT_INIT: o->print_init = true; return GO_ON;
	case 'o': o->output = arg; return GO_ON;
	case 'q': o->quiet = true; return GO_ON;
	case 'h': usage(stdout); return EXIT_OK;
	case 'm':
		if (push((void **)&o->modules, &o->nmodules, sizeof(char *)) != 0)
			return EXIT_FAIL;
		o->modules[o->nmodules - 1] = arg;
		return GO_ON;
	case OPT_ADD_MODULE:
		if (push((void **)&o->kos, &o->nkos, sizeof(char *)) != 0)
			return EXIT_FAIL;
		o->kos[o->nkos - 1] = arg;
		return GO_ON;
	case 'a':
		if (push((void **)&o->adds, &o->nadds, sizeof(struct addition)) != 0)
			return EXIT_FAIL;
		return parse_add(arg, &o->adds[o->nadds - 1]) ? EXIT_USAGE : GO_ON;
	default:
		fprintf(stderr, "Try 'fsbridge-mkinitramfs --help'.\n");
		return EXIT_USAGE;
	}
}

/* Returns GO_ON, or the exit status to leave with. */
static int
parse_args(int argc, char **argv, struct options *o)
{
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "k:m:a:o:qh", long_options, NULL)) != -1)
		if ((rc = take_option(ch, optarg, o)) != GO_ON)
			return rc;
	if (optind < argc) {
		warnx("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (o->output == NULL && !o->print_kernel && !o->print_init) {
		warnx("no output file: give -o OUTPUT.cpio.zst (see --help)");
		return EXIT_USAGE;
	}
	return GO_ON;
}

/* --init, else fsbridge-init next to this program (the build tree),
 * else the installed one: in $(pkglibexecdir) as seen from where this
 * program is installed (relocate.h), else the configured $(pkglibexecdir).
 * launch asks for this path with --print-init. */
static char *
find_init(const char *given)
{
	char self[PATH_MAX], moved[PATH_MAX], *path = NULL;
	ssize_t n;

	if (given != NULL)
		return strdup(given);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if (relocate(self, FSB_BINDIR, FSB_PKGLIBEXECDIR "/" INIT_NAME, moved,
		    sizeof(moved)) != 0)
			moved[0] = '\0';
		if (asprintf(&path, "%s/%s", dirname(self), INIT_NAME) < 0)
			return NULL;
		if (access(path, X_OK) == 0)
			return path;
		free(path);
		if (moved[0] != '\0' && access(moved, X_OK) == 0)
			return realpath(moved, NULL);
	}
	if (access(FSB_PKGLIBEXECDIR "/" INIT_NAME, X_OK) == 0)
		return strdup(FSB_PKGLIBEXECDIR "/" INIT_NAME);
	warnx("cannot find %s next to this program or in %s; give it with "
	    "--init PATH", INIT_NAME, FSB_PKGLIBEXECDIR);
	return NULL;
}

static int
resolve_modules(struct kmod_index *ix, const struct options *o,
    struct counts *n)
{
	size_t i, ndef = sizeof(default_modules) / sizeof(default_modules[0]);
	int rc = 0;

	for (i = 0; !o->no_default_modules && i < ndef && rc >= 0; i++)
		if ((rc = kmod_require(ix, default_modules[i])) == KMOD_BUILTIN)
			n->builtin++;
	for (i = 0; i < o->nmodules && rc >= 0; i++)
		if ((rc = kmod_require(ix, o->modules[i])) == KMOD_BUILTIN)
			n->builtin++;
	n->modules = (unsigned)(ix->norder + o->nkos);
	return rc < 0 ? rc : 0;
}

/* Warns about a failed cpio call for an entry the builder generates. */
static int
entry_error(int rc, const char *what)
{
	if (rc != 0)
		warnx("writing %s into the image: %s", what, strerror(-rc));
	return rc;
}

/* The skeleton every image has: /dev/console (the kernel opens it for
 * the init's stdin/stdout/stderr), /proc, /sys and /init. */
static int
add_base(struct cpio *c, const char *init)
{
	struct stat st;
	int rc, fd;

	rc = entry_error(cpio_add_dir(c, "/dev", 0755), "/dev");
	if (rc == 0)
		rc = entry_error(cpio_add_node(c, "/dev/console", S_IFCHR, 0600,
		    5, 1), "/dev/console");
	if (rc == 0)
		rc = entry_error(cpio_add_dir(c, "/proc", 0555), "/proc");
	if (rc == 0)
		rc = entry_error(cpio_add_dir(c, "/sys", 0555), "/sys");
	if (rc != 0)
		return rc;
	if ((fd = open(init, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		warn("%s", init);
	} else
		rc = entry_error(cpio_add_fd(c, "/init", 0755, fd,
		    (uint64_t)st.st_size, 0), init);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int
add_module(struct cpio *c, const struct kmod_index *ix, const struct kmod *m,
    const char *version, FILE *order)
{
	struct kobuf ko;
	char *src = NULL, *dst = NULL;
	int rc = -ENOMEM;

	if (asprintf(&src, "%s/%s", ix->dir, m->path) < 0)
		return -ENOMEM;
	if (asprintf(&dst, "/lib/modules/%s/%s.ko", version, m->name) < 0) {
		free(src);
		return -ENOMEM;
	}
	rc = kofile_read(src, &ko);
	if (rc == 0) {
		rc = entry_error(cpio_add_data(c, dst, 0644, ko.data, ko.len, 0), dst);
		kobuf_free(&ko);
	}
	if (rc == 0)
		fprintf(order, "%s\n", dst);
	free(src);
	free(dst);
	return rc;
}

/* The module name of an out-of-tree FILE: its base name without .ko,
 * .ko.zst or .ko.xz, '-' written as '_'; NULL (printed) if it has none. */
static char *
ko_name(const char *file)
{
	static const char *const suffixes[] = { ".ko", ".ko.zst", ".ko.xz" };
	const char *base = strrchr(file, '/');
	size_t len, n, i;
	char *name;

	base = base ? base + 1 : file;
	len = strlen(base);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		n = strlen(suffixes[i]);
		if (len > n && strcmp(base + len - n, suffixes[i]) == 0)
			break;
	}
	if (i == sizeof(suffixes) / sizeof(suffixes[0])) {
		warnx("--add-module %s: not a .ko, .ko.zst or .ko.xz file", file);
		return NULL;
	}
	if ((name = strndup(base, len - n)) == NULL)
		return NULL;
	for (char *p = name; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	return name;
}

/* An out-of-tree module, after the closure; refused if the kernel's own
 * modules (or an earlier --add-module) already give that name. */
static int
add_ko(struct cpio *c, const struct kmod_index *ix, const char *file,
    const char *version, FILE *order)
{
	struct kobuf ko;
	char *name = ko_name(file), *dst = NULL;
	int rc;

	if (name == NULL)
		return -EINVAL;
	if (kmod_is_builtin(ix, name)) {
		warnx("--add-module %s: module %s is built into kernel %s",
		    file, name, version);
		free(name);
		return -EEXIST;
	}
	if (asprintf(&dst, "/lib/modules/%s/%s.ko", version, name) < 0) {
		free(name);
		return -ENOMEM;
	}
	rc = kofile_read(file, &ko);
	if (rc == 0) {
		rc = cpio_add_data(c, dst, 0644, ko.data, ko.len, 0);
		if (rc == -EEXIST)
			warnx("--add-module %s: module %s is already in the image",
			    file, name);
		else
			entry_error(rc, dst);
		kobuf_free(&ko);
	}
	if (rc == 0)
		fprintf(order, "%s\n", dst);
	free(name);
	free(dst);
	return rc;
}

/* Every module in load order, then /etc/modules.order listing them. */
static int
add_modules(struct cpio *c, const struct kmod_index *ix, const char *version,
    const struct options *o)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *order = open_memstream(&text, &len);
	int rc = 0;

	if (order == NULL)
		return -ENOMEM;
	for (i = 0; i < ix->norder && rc == 0; i++)
		rc = add_module(c, ix, ix->order[i], version, order);
	for (i = 0; i < o->nkos && rc == 0; i++)
		rc = add_ko(c, ix, o->kos[i], version, order);
	if (fclose(order) != 0 && rc == 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = entry_error(cpio_add_data(c, MODULES_ORDER, 0644, text, len, 0),
		    MODULES_ORDER);
	free(text);
	return rc;
}

static int
add_extras(struct cpio *c, const struct options *o)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < o->nadds && rc == 0; i++)
		rc = hostpath_add(c, o->adds[i].host, o->adds[i].image);
	return rc;
}

/* The whole archive, compressed, into fd. */
static int
write_image(int fd, const struct options *o, const struct kmod_index *ix,
    const char *version, const char *init, struct cpio *c, struct zsink *z)
{
	int rc = zsink_open(z, fd, ZSTD_LEVEL);

	if (rc != 0)
		return entry_error(rc, "the zstd stream");
	cpio_init(c, zsink_write, z);
	rc = add_base(c, init);
	if (rc == 0)
		rc = add_modules(c, ix, version, o);
	if (rc == 0)
		rc = add_extras(c, o);
	if (rc == 0)
		rc = entry_error(cpio_finish(c), "the archive trailer");
	if (rc == 0)
		rc = entry_error(zsink_finish(z), "the zstd stream");
	cpio_free(c);
	return rc;
}

static void
summary(const struct options *o, const struct kernel *k,
    const struct counts *n, const struct cpio *c, const struct zsink *z)
{
	fprintf(stderr, "fsbridge-mkinitramfs: %s: kernel %s, %u modules "
	    "(%u more built in), %u entries, %.1f KiB of data, "
	    "%.1f KiB compressed\n", o->output, k->version, n->modules,
	    n->builtin, c->entries, (double)c->data_bytes / 1024,
	    (double)z->bytes_out / 1024);
}

static int
build(const struct options *o, const struct kernel *k, const char *init)
{
	struct kmod_index ix;
	struct counts n = { 0 };
	struct outfile out;
	struct cpio c;
	struct zsink z = { .fd = -1 };
	int rc = kmod_index_load(&ix, k->modules_dir);

	if (rc != 0)
		return rc;
	rc = resolve_modules(&ix, o, &n);
	if (rc == 0 && (rc = outfile_open(&out, o->output)) != 0)
		warnx("cannot write %s: %s", o->output, strerror(-rc));
	if (rc == 0) {
		rc = write_image(out.fd, o, &ix, k->version, init, &c, &z);
		if (rc == 0 && (rc = outfile_commit(&out)) != 0)
			warnx("cannot write %s: %s", o->output, strerror(-rc));
		outfile_discard(&out);
	}
	if (rc == 0 && !o->quiet)
		summary(o, k, &n, &c, &z);
	zsink_close(&z);
	kmod_index_free(&ix);
	return rc;
}

static int
print_kernel(const struct kernel *k)
{
	if (k->image == NULL) {
		warnx("kernel %s has no image %s/vmlinuz-%s", k->version,
		    KERNEL_BOOT_DIR, k->version);
		return EXIT_FAIL;
	}
	printf("%s\n", k->image);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct kernel k;
	char *init = NULL;
	int rc = parse_args(argc, argv, &o);

	if (rc == GO_ON && o.print_init) {
		/* no kernel needed: launch doctor asks on a machine without one */
		init = find_init(o.init);
		rc = init != NULL && printf("%s\n", init) > 0 && fflush(stdout) == 0 ?
		    EXIT_OK : EXIT_FAIL;
		free(init);
		free_options(&o);
		return rc;
	}
	if (rc != GO_ON || kernel_pick(&o.kernel, &k) != 0) {
		free_options(&o);
		return rc != GO_ON ? rc : EXIT_FAIL;
	}
	if (o.print_kernel)
		rc = print_kernel(&k);
	else if ((init = find_init(o.init)) == NULL || static_elf_check(init) != 0)
		rc = EXIT_FAIL;
	else
		rc = build(&o, &k, init) == 0 ? EXIT_OK : EXIT_FAIL;
	free(init);
	kernel_free(&k);
	free_options(&o);
	return rc;
}
