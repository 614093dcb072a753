/*
 * doctor: `launch doctor` checks QEMU, the guest kernel and its modules,
 * the accelerator (from the remembered KVM verdict, without booting),
 * /dev/kvm for this user (the kvm group), memfd, /dev/fuse and a setuid
 * fusermount3 (fsbridge mount without root), the helper programs, that
 * this user can read the kernel image, mkfs.ext4, passt, and the state and
 * volume directories, the warm start (on or off, its saved states, room
 * for them); one line per check, and how to fix each failure; then the
 * list of paths the guest's root hides.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <unistd.h>

#include "accel.h"
#include "doctor.h"
#include "hide_list.h"
#include "locate.h"
#include "spawn.h"
#include "state_dir.h"
#include "volume.h"
#include "warm_store.h"

/* What the guest image must hold (see fsbridge-mkinitramfs and initrd.c). */
static const char *const needed_modules[] = {
	"virtiofs", "virtio_console", "virtio_blk", "overlay", "ext4", "virtio_net",
};

static int failures;

static void __attribute__((format(printf, 3, 4)))
report(bool good, const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("%-5s %s: ", good ? "ok" : "FAIL", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!good)
		failures++;
}

static void
check_qemu(const struct launch_opts *o)
{
	const char *env = getenv("FSBRIDGE_QEMU");
	char path[4096];

	if (o->qemu != NULL || (env != NULL && env[0] == '\0'))
		env = o->qemu;
	if (locate_qemu(o->qemu, path, sizeof(path)) == 0)
		report(true, "qemu", "%s", path);
	else
		report(false, "qemu", "%s not found; install qemu-system-x86 (apt-get install "
		    "qemu-system-x86) or give --qemu PATH / FSBRIDGE_QEMU",
		    env ? env : "qemu-system-* on PATH");
}

static bool
tool(const char *what, const char *env, const char *rel, const char *installed,
    char *out, size_t size)
{
	bool good = locate_tool(env, rel, installed, out, size) == 0;

	if (good)
		report(true, what, "%s", out);
	else
		report(false, what, "not found; install fsbridge (make install) or set %s", env);
	return good;
}

/* Is NAME.ko in modules.dep or modules.builtin of dir? */
static bool
module_present(const char *dir, const char *name)
{
	static const char *const lists[] = { "modules.dep", "modules.builtin" };
	char path[4400], *line = NULL, want[128];
	size_t cap = 0;
	bool found = false;

	snprintf(want, sizeof(want), "/%s.ko", name);
	for (size_t i = 0; i < 2 && !found; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, lists[i]);
		f = fopen(path, "re");
		while (f != NULL && !found && getline(&line, &cap, f) > 0) {
			char *colon = strchr(line, ':');

			if (colon != NULL)
				*colon = '\0';
			found = strstr(line, want) != NULL;
		}
		if (f != NULL)
			fclose(f);
	}
	free(line);
	return found;
}

static void
check_modules(const char *kernel)
{
	char copy[4096], dir[4200], missing[512] = "";
	const char *base;

	strlcpy(copy, kernel, sizeof(copy));
	base = basename(copy);
	if (strncmp(base, "vmlinuz-", 8) != 0) {
		report(false, "modules", "cannot tell %s's version (expected /boot/vmlinuz-VERSION)",
		    kernel);
		return;
	}
	snprintf(dir, sizeof(dir), "/lib/modules/%s", base + 8);
	if (access(dir, R_OK) != 0) {
		report(false, "modules", "%s is missing; install the modules of that kernel "
		    "(linux-image-%s)", dir, base + 8);
		return;
	}
	for (size_t i = 0; i < sizeof(needed_modules) / sizeof(needed_modules[0]); i++)
		if (!module_present(dir, needed_modules[i])) {
			strlcat(missing, " ", sizeof(missing));
			strlcat(missing, needed_modules[i], sizeof(missing));
		}
	if (missing[0] != '\0')
		report(false, "modules", "%s lacks%s; use a kernel that has them (e.g. "
		    "linux-image-cloud-amd64) with --kernel", dir, missing);
	else
		report(true, "modules", "%s has virtiofs, virtio_console, virtio_blk, overlay, "
		    "ext4, virtio_net", dir);
}

static void
check_kernel(const struct launch_opts *o, const char *mki, bool have_mki)
{
	char path[4096], why[1024];

	if (!have_mki && o->kernel == NULL) {
		report(false, "kernel", "cannot look for one without fsbridge-mkinitramfs");
		return;
	}
	if (locate_kernel(o->kernel, mki, path, sizeof(path)) != 0) {
		if (o->kernel != NULL)
			report(false, "kernel", "--kernel %s: no such file; give an existing kernel "
			    "image", o->kernel);
		else
			report(false, "kernel", "no /boot/vmlinuz-* with modules; install "
			    "linux-image-cloud-amd64, or use --kernel");
		return;
	}
	if (locate_kernel_readable(path, why, sizeof(why)) != 0)
		report(false, "kernel", "%s: %s", path, why);
	else
		report(true, "kernel", "%s", path);
	check_modules(path);
}

/* Not a failure: without fsb_notify launch works, and says so once. */
static void
warn(const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("%-5s %s: ", "warn", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Can the image get fsb_notify (guest file watchers hear host edits)? */
static void
check_watchers(const struct launch_opts *o, const char *mki, bool have_mki)
{
	char build[4096], kernel[4096], why[1024] = "";
	const char *base;
	char *argv[4];
	int fd, rc;

	if (locate_tool("FSBRIDGE_KMOD_BUILD", "guest-overlay/kmod-build/build.sh",
	    FSB_PKGDATADIR "/kmod/build.sh", build, sizeof(build)) != 0) {
		warn("watchers", "fsb_notify's sources are not installed (%s/kmod): file "
		    "watchers in the guest will not hear of host edits; reinstall fsbridge",
		    FSB_PKGDATADIR);
		return;
	}
	if ((!have_mki && o->kernel == NULL) ||
	    locate_kernel(o->kernel, mki, kernel, sizeof(kernel)) != 0)
		return;		/* check_kernel said why */
	base = strrchr(kernel, '/');
	base = base != NULL ? base + 1 : kernel;
	if (strncmp(base, "vmlinuz-", 8) != 0) {
		warn("watchers", "%s is not named vmlinuz-VERSION: fsb_notify cannot be "
		    "built for it; file watchers in the guest will not hear of host edits",
		    kernel);
		return;
	}
	argv[0] = build;
	argv[1] = "--check";
	argv[2] = (char *)base + 8;
	argv[3] = NULL;
	fd = memfd_create("why", MFD_CLOEXEC);
	rc = run_capture(argv, fd, NULL, 0);
	if (rc == 0) {
		report(true, "watchers", "fsb_notify builds for kernel %s: file watchers in "
		    "the guest hear host edits", base + 8);
	} else {
		if (fd >= 0 && pread(fd, why, sizeof(why) - 1, 0) > 0)
			why[strcspn(why, "\n")] = '\0';
		warn("watchers", "%s: file watchers in the guest will not hear of host edits",
		    why[0] != '\0' ? why : "fsb_notify cannot be built");
	}
	if (fd >= 0)
		close(fd);
}

static void
check_accel(const struct launch_opts *o, const char *state)
{
	char why[256], verdict[512] = "";
	bool usable = accel_kvm_usable(why, sizeof(why));

	state_read(state, ST_KVM_VERDICT, verdict, sizeof(verdict));
	if (strcmp(o->accel, "tcg") == 0)
		report(true, "accel", "tcg (KVM: %s%s%s)", usable ? "/dev/kvm answers" : why,
		    verdict[0] ? "; last probe: " : "", verdict);
	else if (!usable && strcmp(o->accel, "kvm") == 0)
		report(false, "accel", "kvm asked but %s; use --accel tcg or auto", why);
	else if (strncmp(verdict, "broken", 6) == 0)
		report(strcmp(o->accel, "auto") == 0, "accel", "%s: KVM found %s%s", o->accel,
		    verdict, strcmp(o->accel, "auto") == 0 ? " (auto uses TCG)" :
		    "; use --accel tcg, or delete kvm-verdict in the state dir to probe again");
	else
		report(true, "accel", "%s (%s%s%s)", o->accel, usable ? "/dev/kvm answers" : why,
		    verdict[0] ? "; last probe: " : "; not probed yet",
		    verdict);
}

/* /dev/kvm for an ordinary user: the kvm group. */
static void
check_kvm(const struct launch_opts *o)
{
	const char *user = getenv("USER");
	int fd;

	if (access("/dev/kvm", F_OK) != 0) {
		report(true, "kvm", "no /dev/kvm: guests run under TCG (emulated, slow)");
		return;
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		report(true, "kvm", "/dev/kvm is open to you");
	} else if (errno == EACCES || errno == EPERM) {
		report(strcmp(o->accel, "tcg") == 0, "kvm", "/dev/kvm is not open to you: add "
		    "yourself to the kvm group (as root: adduser %s kvm; then log in again)%s",
		    user && user[0] ? user : "USER", strcmp(o->accel, "tcg") == 0 ? "" :
		    "; meanwhile guests run under TCG (emulated, slow)");
	} else {
		report(strcmp(o->accel, "kvm") != 0, "kvm", "/dev/kvm: %s", strerror(errno));
	}
}

/* fsbridge mount: /dev/fuse, and for an ordinary user a setuid fusermount3. */
static void
check_fuse(void)
{
	static const char *const fusermount[] = { "/usr/bin/fusermount3", "/bin/fusermount3",
		"/usr/local/bin/fusermount3" };
	struct stat st;
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	size_t i;

	if (fd >= 0) {
		close(fd);
		report(true, "fuse", "/dev/fuse is open to you (fsbridge mount)");
	} else {
		report(false, "fuse", "/dev/fuse: %s; fsbridge mount needs it (as root: "
		    "modprobe fuse; apt-get install fuse3)", strerror(errno));
	}
	if (geteuid() == 0) {
		report(true, "fusermount3", "not needed as root");
		return;
	}
	for (i = 0; i < sizeof(fusermount) / sizeof(fusermount[0]); i++)
		if (stat(fusermount[i], &st) == 0)
			break;
	if (i == sizeof(fusermount) / sizeof(fusermount[0]))
		report(false, "fusermount3", "not found; fsbridge mount needs it without root "
		    "(apt-get install fuse3)");
	else if (st.st_uid != 0 || !(st.st_mode & S_ISUID))
		report(false, "fusermount3", "%s is not setuid root; fsbridge mount needs it "
		    "without root (as root: chmod u+s %s, or reinstall fuse3)", fusermount[i],
		    fusermount[i]);
	else
		report(true, "fusermount3", "%s is setuid root (fsbridge mount)", fusermount[i]);
}

static void
check_memfd(void)
{
	int fd = memfd_create("fsbridge-doctor", MFD_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		report(true, "memfd", "memfd_create works");
	} else {
		report(false, "memfd", "memfd_create: %s; QEMU needs it for vhost-user shared "
		    "memory (a kernel >= 3.17, no seccomp filter forbidding it)", strerror(errno));
	}
}

static void
check_mkfs(void)
{
	if (access("/sbin/mkfs.ext4", X_OK) == 0 || access("/usr/sbin/mkfs.ext4", X_OK) == 0)
		report(true, "mkfs.ext4", "found (formats new volumes)");
	else
		report(false, "mkfs.ext4", "not found; install e2fsprogs (needed by --volume)");
}

static void
check_writable(const char *what, const char *dir, int rc)
{
	char probe[4200], why[4400] = "";
	FILE *f = NULL;

	if (rc == 0 && (rc = state_dir_create(dir, why, sizeof(why))) == 0) {
		snprintf(probe, sizeof(probe), "%s/.doctor.%d", dir, (int)getpid());
		f = fopen(probe, "we");
		rc = f != NULL ? 0 : -errno;
		snprintf(why, sizeof(why), "%s: %s", dir, strerror(errno));
		if (f != NULL) {
			fclose(f);
			unlink(probe);
		}
	}
	if (rc == 0)
		report(true, what, "%s is writable", dir);
	else
		report(false, what, "%s; fix its permissions or choose another with %s",
		    why[0] ? why : strerror(-rc), strcmp(what, "state") == 0 ?
		    "--state or FSBRIDGE_STATE_DIR" : "FSBRIDGE_VOLUME_DIR");
}

static void
check_passt(void)
{
	char path[4096];

	if (locate_passt(path, sizeof(path)) == 0)
		report(true, "passt", "%s (--net)", path);
	else
		report(false, "passt", "not found; install passt (apt-get install passt) or "
		    "set FSBRIDGE_PASST (needed by --net)");
}

/* Warm start: on or off, the saved states, and room for them (a warm
 * VM's RAM is a file in the state dir: a full disk there would kill it). */
static void
check_warm(const struct launch_opts *o, const char *state)
{
	char top[4200], dir[4500], saved[64], names[256] = "";
	unsigned mem = DEFAULT_MEM_MIB, n = 0;
	unsigned long long free_mib;
	struct statvfs fs;
	struct dirent *e;
	DIR *d;

	if (o->cold) {
		report(true, "warm", "off (--cold or FSBRIDGE_WARM=0): every start of a stopped "
		    "VM boots");
		return;
	}
	if (warm_path(top, sizeof(top), state, NULL, NULL) == 0 && (d = opendir(top)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.' || warm_path(dir, sizeof(dir), state, e->d_name,
			    NULL) != 0 || warm_header_field(dir, "saved", saved, sizeof(saved)) != 0)
				continue;
			n++;
			strlcat(names, n > 1 ? ", " : " (", sizeof(names));
			strlcat(names, e->d_name, sizeof(names));
		}
		closedir(d);
	}
	if (n > 0)
		strlcat(names, ")", sizeof(names));
	report(true, "warm", "on (the default; --cold or FSBRIDGE_WARM=0 to boot instead): "
	    "%u saved state%s%s", n, n == 1 ? "" : "s", n > 0 ? names : ", the next start "
	    "boots and saves one");
	state_uint(state, ST_MEM, DEFAULT_MEM_MIB, 128, 1u << 20, &mem);
	if (statvfs(state, &fs) != 0)
		return;
	free_mib = (unsigned long long)fs.f_bavail * fs.f_frsize >> 20;
	if (free_mib < 2ull * mem)
		warn("warm", "%llu MiB free in %s: a warm VM's RAM is a file there (up to %u MiB) "
		    "and a saved state holds the RAM in use twice; free some space, or boot with "
		    "--cold", free_mib, state, mem);
}

/* The hide list a boot would use (or the running VM's), and each rule. */
static void
check_hide(const struct launch_opts *o, const char *state)
{
	static struct policy p;
	char err[512];
	bool running = o->nhide == 0 && o->policy == NULL && hide_list_read(state, &p) == 0;

	if (!running && hide_list_build(o, o->root ? o->root : "/", state, &p, err,
	    sizeof(err)) != 0) {
		report(false, "hide", "%s; fix --hide/--expose/--policy", err);
		return;
	}
	report(true, "hide", "%u paths hidden from the guest's root (%s)", p.nhide,
	    running ? "the running VM's" : "at the next boot");
	for (const char *r = policy_hide_next(&p, NULL); r != NULL; r = policy_hide_next(&p, r))
		report(true, "hidden", "/%s", r);
}

int
doctor(const struct launch_opts *o, const char *state)
{
	char path[4096], mki[4096], init[4200], vols[4096] = "";
	bool have_mki;
	int rc;

	failures = 0;
	check_qemu(o);
	tool("fsbridge", "FSBRIDGE", "fsbridge/fsbridge", FSB_BINDIR "/fsbridge", path,
	    sizeof(path));
	have_mki = tool("fsbridge-mkinitramfs", "FSBRIDGE_MKINITRAMFS",
	    "guest-overlay/fsbridge-mkinitramfs", FSB_BINDIR "/fsbridge-mkinitramfs", mki,
	    sizeof(mki));
	if (have_mki) {
		if (locate_init(mki, init, sizeof(init)) == 0)
			report(true, "fsbridge-init", "%s", init);
		else
			report(false, "fsbridge-init", "%s --print-init finds none; reinstall "
			    "fsbridge (make install)", mki);
	}
	tool("fsbridge-agent", "FSBRIDGE_AGENT", "guest-overlay/fsbridge-agent",
	    FSB_PKGLIBEXECDIR "/fsbridge-agent", path, sizeof(path));
	check_kernel(o, mki, have_mki);
	check_watchers(o, mki, have_mki);
	check_accel(o, state);
	check_kvm(o);
	check_memfd();
	check_fuse();
	check_mkfs();
	check_passt();
	check_writable("state", state, 0);
	check_warm(o, state);
	{
		char why[4400];

		rc = volume_dir(vols, sizeof(vols), why, sizeof(why));
	}
	check_writable("volumes", vols, vols[0] != '\0' ? 0 : rc);
	check_hide(o, state);
	return failures == 0 ? 0 : 1;
}
