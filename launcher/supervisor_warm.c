/*
 * supervisor_warm: the warm start (launch(1)).  The saved machine has no
 * share, volume or network: its state depends only on QEMU, the kernel,
 * the guest image, cpus, mem and the machine's argv (the key in its
 * header), and one state serves every project.  A VM starts by
 * restoring the newest matching state (QEMU -incoming defer, the RAM
 * file renamed from the copy made ahead, the device state through
 * migrate-incoming, bounded in time); when there is none, or it fails,
 * it boots that machine, waits for the agent's PING and saves it (stop,
 * migrate with x-ignore-shared, the RAM copied while paused, the header
 * last), and runs on from there.  Either way the shares, volumes and
 * network are then hot-plugged (warm_plug.c; QEMU 7.2 cannot migrate
 * vhost-user-fs, and a saved disk or NIC would be stale), the VM continued
 * and the agent woken (clock, RNG, mounts): nothing of the shares was
 * ever in a saved state, so nothing of them can be stale.  Then a copy
 * of the RAM file is made in the background for the next restore.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "argvec.h"
#include "guest-overlay/contract/contract.h"
#include "guest-overlay/contract/frame_io.h"
#include "qemu_argv.h"
#include "qmp.h"
#include "state_dir.h"
#include "supervisor_parts.h"
#include "warm_copy.h"
#include "warm_store.h"

#define RESTORE_SECONDS 15   /* migrate-incoming: an empty stream hangs QEMU */
#define SAVE_SECONDS 120
#define QMP_SECONDS 30
#define DEFAULT_STATE "default"

bool
sup_warm_possible(struct sup *sv)
{
	bool probe = false;

	if (sv->p->cold || !sup_warm_plug_fits(sv))
		return false;
	accel_first(sv->p->accel, sv->p->state, &probe);
	return !probe;
}

/* What a saved state depends on: the files (by identity), the sizes,
 * and the machine's argv, word for word. */
static int
make_key(struct sup *sv, const char *accel, char *key, size_t size)
{
	struct vm_config c = {
		.state = sv->p->state, .qemu = sv->p->paths.qemu, .kernel = sv->p->paths.kernel,
		.initrd = sv->initrd, .accel = accel, .cpus = sv->cpus, .mem_mib = sv->mem_mib,
		.console_fd = 3, .warm = true,
	};
	struct argvec a = { 0 };
	char n[32];

	key[0] = '\0';
	warm_key_file(key, size, "qemu", sv->p->paths.qemu);
	warm_key_file(key, size, "kernel", sv->p->paths.kernel);
	warm_key_file(key, size, "image", sv->initrd);
	snprintf(n, sizeof(n), "%u", sv->cpus);
	warm_key_line(key, size, "cpus", n);
	snprintf(n, sizeof(n), "%u", sv->mem_mib);
	warm_key_line(key, size, "mem", n);
	qemu_argv(&a, &c);
	for (size_t i = 0; a.err == 0 && i < a.n; i++) {
		if (strchr(a.v[i], '\n') != NULL)
			a.err = -EINVAL;
		else
			warm_key_line(key, size, "argv", a.v[i]);
	}
	argvec_free(&a);
	return a.err != 0 ? a.err : strlen(key) + 1 >= size ? -ENAMETOOLONG : 0;
}

static void
say_note(void *arg, const char *line)
{
	sup_note(arg, "%s", line);
}

static void
state_file(struct sup *sv, char *out, size_t size, const char *name, const char *file)
{
	warm_path(out, size, sv->p->state, name, file);
}

static int
qmp_connect(struct sup *sv, struct qmp *q)
{
	char path[4200];

	state_path(path, sizeof(path), sv->p->state, ST_QMP_SOCK);
	return qmp_open(q, path, QMP_SECONDS);
}

/* state/ram from the state's copy made ahead, or copied (and checked)
 * now; -EBADMSG: the saved RAM is corrupt. */
static int
take_ram(struct sup *sv, const char *name, char *why, size_t size)
{
	char ram[4200], next[4400], mem[4400], want[200], hash[WARM_HASH_HEX];
	int rc;

	state_path(ram, sizeof(ram), sv->p->state, ST_RAM);
	state_file(sv, next, sizeof(next), name, WARM_NEXT);
	state_file(sv, mem, sizeof(mem), name, WARM_MEM);
	unlink(ram);
	if (rename(next, ram) == 0)
		return 0;
	sup_log("no copy of %s made ahead: copying it now", mem);
	state_file(sv, next, sizeof(next), name, NULL);
	if (warm_header_field(next, "ram", want, sizeof(want)) != 0 ||
	    strchr(want, ' ') == NULL) {
		snprintf(why, size, "no RAM checksum in its header");
		return -EBADMSG;
	}
	rc = warm_copy(mem, ram, strchr(want, ' ') + 1, hash);
	if (rc != 0)
		snprintf(why, size, "%s", rc == -EBADMSG ?
		    "corrupt: its RAM file does not match its checksum" : strerror(-rc));
	return rc;
}

/* QEMU waiting (-incoming defer), fed the state's vmstate; 0, or -errno
 * with why and QEMU stopped. */
static int
restore(struct sup *sv, const char *accel, const char *name, struct qmp *q, char *why,
    size_t size)
{
	char path[4400], reply[1024];
	int fd, rc = take_ram(sv, name, why, size);

	if (rc != 0)
		return rc;
	sv->incoming = true;
	rc = sup_start_qemu(sv, accel);
	sv->incoming = false;
	if (rc != 0) {
		snprintf(why, size, "cannot start QEMU: %s", strerror(-rc));
		return rc;
	}
	state_file(sv, path, sizeof(path), name, WARM_VMSTATE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	rc = fd < 0 ? -errno : qmp_connect(sv, q);
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, sizeof(reply),
		    "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
		    "[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}");
	if (rc == 0)
		rc = qmp_cmd(q, fd, QMP_SECONDS, reply, sizeof(reply),
		    "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"vmstate\"}}");
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, sizeof(reply),
		    "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"fd:vmstate\"}}");
	if (rc != 0)
		snprintf(why, size, "QMP: %.300s", rc == -EIO ? reply : strerror(-rc));
	else
		rc = qmp_wait_migration(q, RESTORE_SECONDS, why, size);
	if (fd >= 0)
		close(fd);
	if (rc != 0) {
		char qwhy[256];

		if (sup_qemu_check(sv, qwhy, sizeof(qwhy)) != 0)
			snprintf(why + strlen(why), size - strlen(why), " (%s)", qwhy);
		qmp_close(q);
		sup_stop_child(&sv->qemu, SIGKILL);
	}
	return rc;
}

/* Saves the paused-at-boot machine as name (stop, migrate, RAM copied,
 * header last); the VM stays paused either way.  0 or -errno with why. */
static int
save(struct sup *sv, const char *name, const char *key, struct qmp *q, char *why, size_t size)
{
	char tmp[4200], path[4400], ram[4200], reply[1024], hash[WARM_HASH_HEX];
	double t0 = sup_now();
	int fd = -1, rc = warm_begin(sv->p->state, name, tmp, sizeof(tmp));

	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/" WARM_VMSTATE, tmp);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		rc = fd < 0 ? -errno : 0;
	}
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, sizeof(reply),
		    "{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":"
		    "[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}");
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, sizeof(reply), "{\"execute\":\"stop\"}");
	if (rc == 0)
		rc = qmp_cmd(q, fd, QMP_SECONDS, reply, sizeof(reply),
		    "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"vmstate\"}}");
	if (rc == 0)
		rc = qmp_cmd(q, -1, QMP_SECONDS, reply, sizeof(reply),
		    "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:vmstate\"}}");
	if (rc != 0)
		snprintf(why, size, "%.300s", rc == -EIO ? reply : strerror(-rc));
	else
		rc = qmp_wait_migration(q, SAVE_SECONDS, why, size);
	if (fd >= 0)
		close(fd);
	state_path(ram, sizeof(ram), sv->p->state, ST_RAM);
	snprintf(path, sizeof(path), "%s/" WARM_MEM, tmp);
	if (rc == 0 && (rc = warm_copy(ram, path, NULL, hash)) != 0)
		snprintf(why, size, "copying the RAM: %s", strerror(-rc));
	if (rc == 0 && (rc = warm_commit(sv->p->state, name, tmp, key, hash)) != 0)
		snprintf(why, size, "%s", strerror(-rc));
	if (rc != 0)
		warm_remove_dir(tmp);
	else
		sup_log("saved state %s in %.2f s", name, sup_now() - t0);
	return rc;
}

/* The per-launch devices hot-plugged (warm_plug.c), then the VM
 * continued. */
static int
plug_and_continue(struct sup *sv, struct qmp *q, char *why, size_t size)
{
	char reply[1024];
	int rc = sup_warm_plug(sv, q, why, size);

	if (rc == 0 && (rc = qmp_cmd(q, -1, QMP_SECONDS, reply, sizeof(reply),
	    "{\"execute\":\"cont\"}")) != 0)
		snprintf(why, size, "cont: %.300s", rc == -EIO ? reply : strerror(-rc));
	return rc;
}

/* WAKE: the host's clock, randomness, and the shares to mount. */
static int
send_wake(struct sup *sv, int fd)
{
	static unsigned char buf[AP_WAKE_FIXED + AP_WAKE_SEED + (2 + MOUNT_MAX) * 64];
	struct timespec ts;
	size_t len = AP_WAKE_FIXED;

	clock_gettime(CLOCK_REALTIME, &ts);
	ap_put32(buf, (uint32_t)((uint64_t)ts.tv_sec & 0xffffffffu));
	ap_put32(buf + 4, (uint32_t)((uint64_t)ts.tv_sec >> 32));
	ap_put32(buf + 8, (uint32_t)ts.tv_nsec);
	ap_put32(buf + 12, AP_WAKE_SEED);
	if (getrandom(buf + len, AP_WAKE_SEED, 0) != AP_WAKE_SEED)
		return -EIO;
	len += AP_WAKE_SEED;
	len += (size_t)sprintf((char *)buf + len, "%s%c%s%cro%c", FSB_TAG_ROOT, 0,
	    FSB_GUEST_ROOT_SHARE, 0, 0);
	len += (size_t)sprintf((char *)buf + len, "%s%c%s%crw%c", FSB_TAG_PROJ, 0,
	    FSB_GUEST_PROJ_SHARE, 0, 0);
	for (int i = 0; i < sv->p->nmounts; i++) {
		len += (size_t)sprintf((char *)buf + len, FSB_TAG_MOUNT_FMT "%c", i, 0);
		len += (size_t)sprintf((char *)buf + len, FSB_GUEST_MOUNT_FMT "%c%s%c", i, 0,
		    sv->p->mounts[i].ro ? "ro" : "rw", 0);
	}
	return frame_write(fd, AP_WAKE, 0, buf, len);
}

/* The agent again, woken, its root assembled (HELLO). */
static int
wake(struct sup *sv, char *why, size_t size)
{
	double end = sup_now() + BOOT_TIMEOUT_SECONDS;
	int rc;

	sv->agent_fd = sup_connect_agent(sv, end, why, size);
	if (sv->agent_fd < 0)
		return sv->agent_fd;
	rc = send_wake(sv, sv->agent_fd);
	if (rc == 0)
		rc = sup_send_hello(sv, sv->agent_fd);
	if (rc != 0)
		snprintf(why, size, "agent socket: %s", strerror(-rc));
	else
		rc = sup_await_frame(sv, sv->agent_fd, AP_HELLO, end, why, size);
	return rc;
}

/* In the background, at low priority: name's RAM copied (and checked)
 * to mem.next for the next restore; a corrupt state removed. */
static void
prepare_next(struct sup *sv, const char *name)
{
	char dir[4200], mem[4400], next[4400], tmp[4500], want[200], hash[WARM_HASH_HEX];
	pid_t pid;
	int rc;

	state_file(sv, dir, sizeof(dir), name, NULL);
	state_file(sv, mem, sizeof(mem), name, WARM_MEM);
	state_file(sv, next, sizeof(next), name, WARM_NEXT);
	if (access(next, F_OK) == 0 || warm_header_field(dir, "ram", want, sizeof(want)) != 0 ||
	    strchr(want, ' ') == NULL)
		return;
	pid = fork();
	if (pid != 0) {
		sv->prep = pid > 0 ? pid : 0;
		return;
	}
	closefrom(3);   /* the pidfile's lock above all: it must not outlive us */
	setpriority(PRIO_PROCESS, 0, 15);
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", next, (int)getpid());
	rc = warm_copy(mem, tmp, strchr(want, ' ') + 1, hash);
	if (rc == -EBADMSG) {
		sup_log("saved state %s: corrupt: its RAM file does not match its checksum; "
		    "removed", name);
		warm_remove_dir(dir);
	} else if (rc != 0) {
		sup_log("saved state %s: no copy made ahead: %s", name, strerror(-rc));
	} else if (rename(tmp, next) != 0) {
		unlink(tmp);
	}
	_exit(0);
}

void
sup_warm_start(struct sup *sv)
{
	static char key[WARM_KEY_MAX];
	const char *accel = "tcg", *save_as = sv->p->save_name;
	char name[WARM_NAME_MAX] = "", why[768];
	bool probe, restored = false;
	struct qmp q = { .fd = -1 };
	double t0 = sup_now();
	int rc;

	accel = accel_first(sv->p->accel, sv->p->state, &probe);
	sv->warm = true;
	if ((rc = make_key(sv, accel, key, sizeof(key))) != 0)
		sup_fail(sv, "the machine's key: %s", strerror(-rc));
	if (save_as == NULL && warm_find(sv->p->state, key, name, sizeof(name), say_note, sv) == 0) {
		rc = restore(sv, accel, name, &q, why, sizeof(why));
		if (rc == 0) {
			restored = true;
			sup_log("restored saved state %s in %.2f s", name, sup_now() - t0);
		} else {
			char dir[4200];

			sup_note(sv, "saved state %s could not be restored: %s; removed, booting",
			    name, why);
			state_file(sv, dir, sizeof(dir), name, NULL);
			warm_remove_dir(dir);
		}
	}
	if (!restored) {
		if (save_as == NULL)
			save_as = DEFAULT_STATE;
		strlcpy(name, save_as, sizeof(name));
		state_path(why, sizeof(why), sv->p->state, ST_RAM);
		unlink(why);   /* QEMU makes a new RAM file */
		sup_boot_vm(sv);
		close(sv->agent_fd);   /* the saved guest waits for a host to connect */
		sv->agent_fd = -1;
		if ((rc = qmp_connect(sv, &q)) != 0)
			sup_fail(sv, "QMP: %s", strerror(-rc));
		if (save(sv, name, key, &q, why, sizeof(why)) != 0) {
			sup_note(sv, "could not save state %s: %s (the VM runs on)", name, why);
			name[0] = '\0';
		}
	}
	rc = plug_and_continue(sv, &q, why, sizeof(why));
	qmp_close(&q);
	if (rc == 0)
		rc = wake(sv, why, sizeof(why));
	if (rc != 0)
		sup_fail(sv, "the VM did not start: %s", why);
	sup_log("guest ready %.2f s after the start (%s, shares hot-plugged)", sup_now() - t0,
	    restored ? "restored" : "booted");
	state_write(sv->p->state, ST_ACCEL, accel);
	if (name[0] != '\0')
		prepare_next(sv, name);
}
