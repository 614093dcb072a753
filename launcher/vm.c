/* vm: connect to a state dir's VM, booting it (fork the supervisor) or
 * waiting for the launch that boots it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "guest_text.h"
#include "hide_list.h"
#include "locate.h"
#include "qemu_argv.h"
#include "state_dir.h"
#include "supervisor.h"
#include "usock.h"
#include "vm.h"
#include "volume.h"

#define WAIT_STEP_US 50000

static int
ctl_connect(const char *state)
{
	char path[4096];
	int rc = state_path(path, sizeof(path), state, ST_CTL_SOCK);

	return rc != 0 ? rc : usock_connect(path);
}

void
vm_print_tail(const char *state, const char *name, int n)
{
	char path[4096], *lines[64] = { 0 }, *line = NULL;
	size_t cap = 0;
	int count = 0;
	FILE *f;

	if (n > 64)
		n = 64;
	state_path(path, sizeof(path), state, name);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (getline(&line, &cap, f) > 0) {
		free(lines[count % n]);
		lines[count % n] = strdup(line);
		count++;
	}
	fclose(f);
	free(line);
	for (int i = count > n ? count - n : 0; i < count; i++) {
		/* the console is the guest's own text: printable, never controls */
		static char text[GUEST_TEXT_BUF];
		char *l = lines[i % n];

		size_t len = l != NULL ? strlen(l) : 0;

		if (len > 0 && l[len - 1] == '\n')
			len--;
		if (l != NULL)
			fprintf(stderr, "  %s: %s\n", name, guest_text(text, l, len));
	}
	for (int i = 0; i < n; i++)
		free(lines[i]);
}

pid_t
vm_running(const char *state)
{
	char path[4096];
	struct pidfh *pfh;
	pid_t other = 0;

	state_path(path, sizeof(path), state, ST_PID);
	pfh = pidfile_open(path, 0600, &other);
	if (pfh == NULL)
		return errno == EEXIST || errno == EAGAIN ? other : -1;
	state_clean_stale(state);
	pidfile_remove(pfh);
	return -1;
}

static int
find_paths(const struct launch_opts *o, struct boot_paths *bp)
{
	char why[1024];
	int rc;

	rc = locate_qemu(o->qemu, bp->qemu, sizeof(bp->qemu));
	if (rc != 0) {
		fprintf(stderr, "launch: QEMU not found: %s (install qemu-system-x86, or use "
		    "--qemu PATH or FSBRIDGE_QEMU)\n", o->qemu ? o->qemu : "qemu-system-* on PATH");
		return rc;
	}
	if (locate_tool("FSBRIDGE", "fsbridge/fsbridge", FSB_BINDIR "/fsbridge",
	    bp->fsbridge, sizeof(bp->fsbridge)) != 0 ||
	    locate_tool("FSBRIDGE_MKINITRAMFS", "guest-overlay/fsbridge-mkinitramfs",
	    FSB_BINDIR "/fsbridge-mkinitramfs", bp->mkinitramfs, sizeof(bp->mkinitramfs)) != 0 ||
	    locate_tool("FSBRIDGE_AGENT", "guest-overlay/fsbridge-agent",
	    FSB_PKGLIBEXECDIR "/fsbridge-agent", bp->agent, sizeof(bp->agent)) != 0) {
		fprintf(stderr, "launch: fsbridge, fsbridge-mkinitramfs or fsbridge-agent not "
		    "found (is fsbridge installed?)\n");
		return -ENOENT;
	}
	/* without it the guest runs, its file watchers deaf to host edits */
	if (locate_tool("FSBRIDGE_KMOD_BUILD", "guest-overlay/kmod-build/build.sh",
	    FSB_PKGDATADIR "/kmod/build.sh", bp->kmod_build, sizeof(bp->kmod_build)) != 0)
		bp->kmod_build[0] = '\0';
	rc = locate_kernel(o->kernel, bp->mkinitramfs, bp->kernel, sizeof(bp->kernel));
	if (rc != 0) {
		fprintf(stderr, "launch: no guest kernel%s%s (install linux-image-cloud-amd64, "
		    "or use --kernel)\n", o->kernel ? ": " : "", o->kernel ? o->kernel : "");
		return rc;
	}
	rc = locate_kernel_readable(bp->kernel, why, sizeof(why));
	if (rc != 0) {
		fprintf(stderr, "launch: guest kernel %s: %s\n", bp->kernel, why);
		return rc;
	}
	rc = locate_project(o->project, bp->project, sizeof(bp->project));
	if (rc != 0) {
		fprintf(stderr, "launch: %s: %s\n", o->project ? o->project : "project directory",
		    rc == -EINVAL ? "refusing to share / read-write (run launch in a project "
		    "directory or use --project)" : strerror(-rc));
		return rc;
	}
	rc = locate_root(o->root, bp->root, sizeof(bp->root));
	if (rc != 0) {
		fprintf(stderr, "launch: --root %s: %s\n", o->root, rc == -ENOTDIR ?
		    "not a directory" : strerror(-rc));
		return rc;
	}
	if (o->net && (rc = locate_passt(bp->passt, sizeof(bp->passt))) != 0)
		fprintf(stderr, "launch: --net needs passt (apt-get install passt, or "
		    "FSBRIDGE_PASST)\n");
	return rc;
}

/* The --volume options as attachments; -EINVAL after a message. */
static int
parse_volumes(const struct launch_opts *o, struct volume_attach *v, bool find_image)
{
	char why[4400];

	for (int i = 0; i < o->nvolume; i++) {
		int rc = volume_parse_spec(o->volume[i], &v[i], why, sizeof(why));

		if (rc == 0 && find_image)
			rc = volume_image(v[i].image, sizeof(v[i].image), v[i].name, why, sizeof(why));
		if (rc != 0) {
			fprintf(stderr, "launch: --volume %s: %s\n", o->volume[i], why);
			return rc;
		}
	}
	return 0;
}

/* Creates and formats what the volumes need, before the VM boots. */
static int
prepare_volumes(const struct launch_opts *o, struct sup_params *sp)
{
	char why[4400];
	int rc = parse_volumes(o, sp->vols, true);

	for (int i = 0; rc == 0 && i < o->nvolume; i++) {
		rc = volume_prepare(&sp->vols[i], why, sizeof(why));
		if (rc != 0)
			fprintf(stderr, "launch: volume %s: %s\n", sp->vols[i].name, why);
	}
	sp->nvols = rc == 0 ? o->nvolume : 0;
	return rc;
}

/* A running VM serves the volumes asked for (none asked: any). */
static int
check_volumes(const struct launch_opts *o, const char *state)
{
	struct volume_attach v[LAUNCH_MAX_VOLUMES];
	char want[4096], have[4096];

	if (o->nvolume == 0 || parse_volumes(o, v, false) != 0)
		return o->nvolume == 0 ? 0 : -EINVAL;
	volume_list_text(v, o->nvolume, want, sizeof(want));
	if (state_read(state, ST_VOLUMES, have, sizeof(have)) != 0)
		have[0] = '\0';
	if (strcmp(want, have) == 0)
		return 0;
	fprintf(stderr, "launch: the running VM has %s%s, not %s; run 'launch halt' first "
	    "to change its volumes\n", have[0] ? "volumes " : "no volumes", have, want);
	return -EBUSY;
}

/* The --mount options, resolved; -EINVAL after a message. */
static int
parse_mounts(const struct launch_opts *o, struct mount_share *m)
{
	char why[4400];

	for (int i = 0; i < o->nmount; i++)
		if (mount_parse_spec(o->mount[i], &m[i], why, sizeof(why)) != 0) {
			fprintf(stderr, "launch: --mount %s: %s\n", o->mount[i], why);
			return -EINVAL;
		}
	return 0;
}

/* A running VM serves the mounts asked for (none asked: any). */
static int
check_mounts(const struct launch_opts *o, const char *state)
{
	static struct mount_share m[LAUNCH_MAX_MOUNTS];
	char want[8192], have[8192];

	if (o->nmount == 0 || parse_mounts(o, m) != 0)
		return o->nmount == 0 ? 0 : -EINVAL;
	mount_list_text(m, o->nmount, want, sizeof(want));
	if (state_read(state, ST_MOUNTS, have, sizeof(have)) != 0)
		have[0] = '\0';
	if (strcmp(want, have) == 0)
		return 0;
	fprintf(stderr, "launch: the running VM has %s%s, not %s; run 'launch halt' first "
	    "to change its mounts\n", have[0] ? "mounts " : "no mounts", have, want);
	return -EBUSY;
}

/* A running VM has the root asked for (none asked: any). */
static int
check_root(const struct launch_opts *o, const char *state)
{
	char want[4096], have[4096];
	size_t n;

	if (o->root == NULL)
		return 0;
	if (locate_root(o->root, want, sizeof(want)) != 0)
		strlcpy(want, o->root, sizeof(want));
	if (state_read(state, ST_ROOT, have, sizeof(have)) != 0)
		strlcpy(have, "/", sizeof(have));
	n = strlen(have);
	if (n > 0 && have[n - 1] == '\n')
		have[n - 1] = '\0';
	if (strcmp(want, have) == 0)
		return 0;
	fprintf(stderr, "launch: the running VM's root is %s, not %s; run 'launch halt' "
	    "first to change it, or use --name for another VM\n", have, want);
	return -EBUSY;
}

/* A running VM has the network asked for (none asked: any). */
static int
check_net(const struct launch_opts *o, const char *state)
{
	char want[2048], have[2048];

	if (!o->net)
		return 0;
	net_text(o->net, o->net_host, o->port, o->nport, want, sizeof(want));
	if (state_read(state, ST_NET, have, sizeof(have)) != 0)
		strlcpy(have, "off", sizeof(have));
	if (strcmp(want, have) == 0)
		return 0;
	fprintf(stderr, "launch: the running VM's network is '%s', not '%s'; run 'launch "
	    "halt' first to change it\n", have, want);
	return -EBUSY;
}

/* A running VM hides what --hide/--expose/--policy ask for (none
 * asked: any). */
static int
check_hide(const struct launch_opts *o, const char *state)
{
	static struct policy want, have;
	char err[512], *a, *b;
	int rc = 0;

	if (o->nhide == 0 && o->policy == NULL)
		return 0;
	if (hide_list_build(o, o->root ? o->root : "/", state, &want, err, sizeof(err)) != 0) {
		fprintf(stderr, "launch: hide list: %s\n", err);
		return -EINVAL;
	}
	if (hide_list_read(state, &have) != 0)
		policy_init_default(&have);
	a = hide_list_text(&want);
	b = hide_list_text(&have);
	if (a == NULL || b == NULL || strcmp(a, b) != 0) {
		fprintf(stderr, "launch: the running VM hides another list (launch status "
		    "shows it); run 'launch halt' first to change it\n");
		rc = -EBUSY;
	}
	free(a);
	free(b);
	return rc;
}

/* In the forked child: detach and become the supervisor. */
static void __attribute__((noreturn))
become_supervisor(struct sup_params *sp)
{
	pid_t pid;

	setsid();
	if (chdir("/") != 0)
		_exit(1);
	pid = fork();
	if (pid != 0)
		_exit(pid < 0 ? 1 : 0);
	supervisor_main(sp);
}

/* The supervisor's word until it closes the pipe: "note: ..." lines
 * (the warm start's, printed unless quiet), then "ok" or one error line,
 * left in line.  Its length, or -1. */
static ssize_t
read_notes(int fd, char *line, size_t size, bool quiet)
{
	size_t len = 0;
	ssize_t n;
	char *nl;

	line[0] = '\0';
	for (;;) {
		n = read(fd, line + len, size - 1 - len);
		if (n > 0)
			len += (size_t)n;
		line[len] = '\0';
		while ((nl = strchr(line, '\n')) != NULL && strncmp(line, "note: ", 6) == 0) {
			if (!quiet)
				fprintf(stderr, "launch: %.*s\n", (int)(nl - line - 6), line + 6);
			len -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len + 1);
		}
		if (n <= 0 || len == size - 1)
			return len > 0 ? (ssize_t)len : -1;
	}
}

/* We hold the pidfile: start the supervisor and wait for its word. */
static int
boot(const struct launch_opts *o, const char *state, struct pidfh *pfh)
{
	static struct sup_params sp;
	char line[8192], err[512], *last;
	int p[2];
	ssize_t n;
	pid_t pid;

	state_clean_stale(state);
	memset(&sp, 0, sizeof(sp));
	if (find_paths(o, &sp.paths) != 0) {
		pidfile_remove(pfh);
		return -EINVAL;
	}
	if (hide_list_build(o, sp.paths.root, state, &sp.root_policy, err, sizeof(err)) != 0) {
		fprintf(stderr, "launch: hide list: %s\n", err);
		pidfile_remove(pfh);
		return -EINVAL;
	}
	if (prepare_volumes(o, &sp) != 0 ||
	    parse_mounts(o, sp.mounts) != 0 ||
	    pipe2(p, O_CLOEXEC) != 0) {
		pidfile_remove(pfh);
		return -EINVAL;
	}
	strlcpy(sp.state, state, sizeof(sp.state));
	sp.accel = o->accel;
	sp.pfh = pfh;
	sp.ready_fd = p[1];
	sp.net = o->net;
	sp.net_host = o->net_host;
	sp.ports = o->port;
	sp.nports = o->nport;
	sp.nmounts = o->nmount;
	/* warm start unless --cold or FSBRIDGE_WARM=0 (launch save asks for it) */
	sp.cold = o->cold && o->save_name == NULL;
	sp.save_name = o->save_name;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		become_supervisor(&sp);
	}
	close(p[1]);
	pidfile_close(pfh);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	n = pid < 0 ? -1 : read_notes(p[0], line, sizeof(line), o->quiet);
	close(p[0]);
	last = line;
	if (strcmp(last, "ok\n") == 0)
		return 0;
	fprintf(stderr, "launch: %s", n > 0 ? last : "the supervisor died while booting\n");
	vm_print_tail(state, ST_CONSOLE, 8);
	vm_print_tail(state, ST_LOG, 4);
	return -EIO;
}

int
vm_check_cwd(const char *state)
{
	char project[4096], cwd[4096];
	size_t n;

	if (state_read(state, ST_PROJECT, project, sizeof(project)) != 0 ||
	    getcwd(cwd, sizeof(cwd)) == NULL)
		return 0;
	n = strlen(project);
	if (strncmp(cwd, project, n) == 0 && (cwd[n] == '\0' || cwd[n] == '/'))
		return 0;
	fprintf(stderr, "launch: %s is outside the running VM's project %s (writes there "
	    "would be lost); run 'launch halt' first, or use --name for another VM\n",
	    cwd, project);
	return -EXDEV;
}

int
vm_connect(const struct launch_opts *o, const char *state)
{
	char pidpath[4096];
	char why[4400];
	time_t deadline = time(NULL) + BOOT_TIMEOUT_SECONDS + 60;
	int rc = state_dir_create(state, why, sizeof(why));

	if (rc != 0) {
		fprintf(stderr, "launch: state directory %s: %s\n", state, why);
		return rc;
	}
	state_path(pidpath, sizeof(pidpath), state, ST_PID);
	for (;;) {
		struct pidfh *pfh;
		pid_t other = 0;
		int fd = ctl_connect(state);

		if (fd >= 0 && (check_volumes(o, state) != 0 || check_net(o, state) != 0 ||
		    check_mounts(o, state) != 0 || check_hide(o, state) != 0 ||
		    check_root(o, state) != 0)) {
			close(fd);
			return -EBUSY;
		}
		if (fd >= 0)
			return fd;
		pfh = pidfile_open(pidpath, 0600, &other);
		if (pfh != NULL) {
			rc = boot(o, state, pfh);
			if (rc != 0)
				return rc;
			continue;
		}
		if (errno != EEXIST && errno != EAGAIN) {
			fprintf(stderr, "launch: %s: %s\n", pidpath, strerror(errno));
			return -errno;
		}
		if (time(NULL) > deadline) {
			fprintf(stderr, "launch: the VM in %s is not answering (pid %d); "
			    "try 'launch halt -f'\n", state, (int)other);
			return -ETIMEDOUT;
		}
		usleep(WAIT_STEP_US);
	}
}
