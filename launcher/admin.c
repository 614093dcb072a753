/* admin: the VM commands that run no command in it: boot, status, halt,
 * logs, console, vms. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "guest-overlay/contract/frame_io.h"
#include "hide_list.h"
#include "state_dir.h"
#include "usock.h"
#include "vm.h"

int
admin_boot(const struct launch_opts *o, const char *state)
{
	int fd = vm_connect(o, state);

	if (fd < 0)
		return 1;
	close(fd);
	if (!o->quiet)
		printf("running (state %s)\n", state);
	return 0;
}

static void
print_file(const char *state, const char *label, const char *name, const char *unit)
{
	char text[4096];

	if (state_read(state, name, text, sizeof(text)) == 0)
		printf("%-8s %s%s\n", label, text, unit);
}

int
admin_status(const struct launch_opts *o, const char *state)
{
	char ctl[4096];
	pid_t pid = vm_running(state);
	int fd;

	if (pid < 0) {
		printf("not running (state %s)\n", state);
		return 3;
	}
	state_path(ctl, sizeof(ctl), state, ST_CTL_SOCK);
	fd = usock_connect(ctl);
	printf("%-8s %s (supervisor pid %d)\n", "state", fd >= 0 ? "running" : "booting",
	    (int)pid);
	if (fd >= 0)
		close(fd);
	printf("%-8s %s\n", "dir", state);
	print_file(state, "project", ST_PROJECT, "");
	print_file(state, "root", ST_ROOT, "");
	print_file(state, "accel", ST_ACCEL, "");
	print_file(state, "cpus", ST_CPU, "");
	print_file(state, "memory", ST_MEM, " MiB");
	{
		static struct policy rp;

		if (hide_list_read(state, &rp) == 0)
			hide_list_print(&rp, "hidden   ");
	}
	return 0;
}

/* Waits until nothing holds the pidfile; false after seconds. */
static int
wait_stopped(const char *state, int seconds)
{
	for (int i = 0; i < seconds * 20; i++) {
		if (vm_running(state) < 0)
			return 1;
		usleep(50000);
	}
	return 0;
}

static int
halt_force(const char *state, pid_t pid)
{
	if (pid > 0)
		kill(pid, SIGTERM);
	if (wait_stopped(state, 10))
		return 0;
	if (pid > 0)
		kill(pid, SIGKILL);   /* QEMU and the servers die with it */
	if (wait_stopped(state, 5))
		return 0;
	fprintf(stderr, "launch: the supervisor (pid %d) does not stop\n", (int)pid);
	return 1;
}

/* Asks the supervisor for a graceful halt; it closes the connection
 * when it exits. */
static int
halt_graceful(const char *state, int fd, pid_t pid)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (frame_write(fd, AP_HALT, 0, NULL, 0) != 0) {
		close(fd);
		return halt_force(state, pid);
	}
	while (poll(&p, 1, 60 * 1000) == 1 && read(fd, &c, 1) > 0)
		;
	close(fd);
	if (wait_stopped(state, 10))
		return 0;
	return halt_force(state, pid);
}

int
admin_halt(const struct launch_opts *o, const char *state)
{
	char ctl[4096];
	pid_t pid = vm_running(state);
	int fd, rc;

	if (pid < 0) {
		if (!o->quiet)
			printf("not running\n");
		return 0;
	}
	state_path(ctl, sizeof(ctl), state, ST_CTL_SOCK);
	fd = o->force ? -1 : usock_connect(ctl);
	rc = fd >= 0 ? halt_graceful(state, fd, pid) : halt_force(state, pid);
	if (rc == 0 && !o->quiet)
		printf("halted\n");
	return rc;
}

int
admin_show(const char *state, const char *file)
{
	char path[4096], buf[65536];
	ssize_t n;
	int fd;

	state_path(path, sizeof(path), state, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "launch: %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write_all(STDOUT_FILENO, buf, (size_t)n) != 0)
			break;
	close(fd);
	return 0;
}

int
admin_vms(void)
{
	char root[4096], state[8300], project[4096];
	struct dirent *e;
	DIR *d;

	if (state_dir_root(root, sizeof(root)) != 0 || (d = opendir(root)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		pid_t pid;

		if (e->d_name[0] == '.')
			continue;
		snprintf(state, sizeof(state), "%s/%s", root, e->d_name);
		pid = vm_running(state);
		if (pid < 0 || state_read(state, ST_PROJECT, project, sizeof(project)) != 0)
			project[0] = '\0';
		printf("%-16s %-8s %s\n", e->d_name, pid < 0 ? "stopped" : "running", project);
	}
	closedir(d);
	return 0;
}
