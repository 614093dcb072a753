/*
 * state_cmd: the saved states of the warm start, by hand.  `launch save
 * [NAME]` halts the running VM, boots a fresh one and saves it as NAME
 * (a running VM's shares cannot be saved in QEMU 7.2, and what it
 * installed lies on the root share's overlay: launch(1) says more);
 * `launch state ls` lists them, `launch state rm NAME...` removes them.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "state_cmd.h"
#include "vm.h"
#include "warm_store.h"

int
state_save_cmd(struct launch_opts *o, int argc, char **argv, const char *state)
{
	const char *name = argc > 0 ? argv[0] : "default";
	char dir[4200], saved[64];
	int fd;

	if (argc > 1 || !warm_name_valid(name)) {
		fprintf(stderr, "launch: save [NAME]: NAME is letters, digits, '_', '.', '-'\n");
		return LAUNCH_EXIT_USAGE;
	}
	if (o->cold) {
		fprintf(stderr, "launch: save: --cold (or FSBRIDGE_WARM=0) saves nothing "
		    "(launch(1))\n");
		return LAUNCH_EXIT_USAGE;
	}
	if (vm_running(state) >= 0 && admin_halt(o, state) != 0)
		return LAUNCH_EXIT_FAIL;
	o->save_name = name;
	fd = vm_connect(o, state);
	if (fd < 0)
		return LAUNCH_EXIT_FAIL;
	close(fd);
	warm_path(dir, sizeof(dir), state, name, NULL);
	if (warm_header_field(dir, "saved", saved, sizeof(saved)) != 0) {
		fprintf(stderr, "launch: state %s was not saved (see launch logs)\n", name);
		return LAUNCH_EXIT_FAIL;
	}
	if (!o->quiet)
		printf("saved state %s (the VM runs on from it)\n", name);
	return 0;
}

static int
list(const char *state)
{
	char top[4200], dir[4500], path[4600], when[64], field[200];
	struct dirent *e;
	DIR *d;

	if (warm_path(top, sizeof(top), state, NULL, NULL) != 0)
		return LAUNCH_EXIT_FAIL;
	d = opendir(top);
	printf("%-16s %-20s %9s %s\n", "NAME", "SAVED", "RAM", "NEXT RESTORE");
	while (d != NULL && (e = readdir(d)) != NULL) {
		struct stat st;
		time_t t;

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", top, e->d_name);
		if (warm_header_field(dir, "saved", field, sizeof(field)) != 0) {
			printf("%-16s %-20s\n", e->d_name, "(incomplete)");
			continue;
		}
		t = (time_t)atoll(field);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		snprintf(path, sizeof(path), "%s/" WARM_MEM, dir);
		if (stat(path, &st) != 0)
			st.st_blocks = 0;
		snprintf(field, sizeof(field), "%lldM", (long long)st.st_blocks * 512 >> 20);
		snprintf(path, sizeof(path), "%s/" WARM_NEXT, dir);
		printf("%-16s %-20s %9s %s\n", e->d_name, when, field,
		    access(path, F_OK) == 0 ? "ready" : "copies the RAM first");
	}
	if (d != NULL)
		closedir(d);
	return 0;
}

int
state_cmd(int argc, char **argv, const char *state)
{
	int rc = 0;

	if (argc == 1 && strcmp(argv[0], "ls") == 0)
		return list(state);
	if (argc < 2 || strcmp(argv[0], "rm") != 0) {
		fprintf(stderr, "launch: usage: launch state ls | rm NAME...\n");
		return LAUNCH_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		char dir[4200];
		int r;

		if (!warm_name_valid(argv[i])) {
			fprintf(stderr, "launch: state rm %s: not a state name\n", argv[i]);
			rc = LAUNCH_EXIT_USAGE;
			continue;
		}
		warm_path(dir, sizeof(dir), state, argv[i], NULL);
		r = access(dir, F_OK) != 0 ? -ENOENT : warm_remove_dir(dir);
		if (r != 0) {
			fprintf(stderr, "launch: state rm %s: %s\n", argv[i],
			    r == -ENOENT ? "no such saved state" : strerror(-r));
			rc = LAUNCH_EXIT_FAIL;
		}
	}
	return rc;
}
