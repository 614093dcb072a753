/* options.h: the launch command line, as parsed by main.c. */
#ifndef FSB_LAUNCH_OPTIONS_H
#define FSB_LAUNCH_OPTIONS_H

#include <limits.h>
#include <stdbool.h>

#define LAUNCH_MAX_ENV 256
#define LAUNCH_MAX_VOLUMES 8
#define LAUNCH_MAX_PORTS 16
#define LAUNCH_MAX_MOUNTS 8      /* = MOUNT_MAX */
#define LAUNCH_MAX_HIDE 64

struct launch_opts {
	const char *state;    /* --state, or NULL for the default */
	const char *name;     /* --name, default "default" */
	const char *qemu;     /* --qemu or FSBRIDGE_QEMU, else PATH */
	const char *kernel;   /* --kernel, else what fsbridge-mkinitramfs picks */
	const char *accel;    /* --accel kvm|tcg|auto or FSBRIDGE_ACCEL, default tcg */
	const char *project;  /* --project, else nearest parent of cwd with .git */
	const char *root;     /* --root DIR: the guest's read-only root, default / */
	bool isolated;        /* --isolated: a fresh overlay for this command */
	bool no_env;          /* --no-env: only the -e variables */
	const char *env[LAUNCH_MAX_ENV];  /* -e NAME=VALUE or -e NAME */
	int nenv;
	bool no_stdin;        /* -n: stdin from /dev/null, as ssh -n */
	int tty;              /* -t 1, -T 0, default -1: when stdin and stdout are terminals */
	bool force;           /* halt -f */
	bool attach;          /* console -i */
	bool quiet;           /* -q: no progress lines */
	const char *volume[LAUNCH_MAX_VOLUMES];  /* --volume NAME:GUEST[:SIZE] */
	int nvolume;
	bool guest_ps;        /* launch ps: ask the agent for its process table */
	bool net;             /* --net: user-mode networking */
	const char *port[LAUNCH_MAX_PORTS];      /* -p HOST:GUEST (implies --net) */
	int nport;
	const char *mount[LAUNCH_MAX_MOUNTS];  /* --mount HOST:GUEST[:ro|rw][:symlinks=P] */
	int nmount;
	const char *hide[LAUNCH_MAX_HIDE];  /* --hide PATH / --expose PATH, in order */
	bool expose[LAUNCH_MAX_HIDE];       /* hide[i] came from --expose */
	int nhide;
	const char *policy;   /* --policy FILE: hide/expose rules for the root share */
	bool env_all;         /* --env-all: pass secret-looking variables too */
	bool net_host;        /* --net=host: the guest reaches the host's loopback */
	bool cold;            /* --cold or FSBRIDGE_WARM=0: boot; no saved state
	                       * used or made */
	bool warm;            /* --warm: warm even with FSBRIDGE_WARM=0 (warm,
	                       * restoring a saved state or making one at the
	                       * first boot, is the default: launch(1)) */
	const char *save_name;  /* launch save NAME: boot fresh and save as NAME */
};

/* Exit statuses of launch itself (a command's own status passes through). */
#define LAUNCH_EXIT_USAGE 2
#define LAUNCH_EXIT_FAIL 125

#endif
