/*
 * state_dir.h: the per-VM state directory and the small files in it.
 *
 *   $FSBRIDGE_STATE_DIR or --state DIR, else
 *   /run/fsbridge/vm/NAME as root, else $XDG_STATE_HOME/fsbridge/vm/NAME
 *   (~/.local/state/fsbridge/vm/NAME)
 */
#ifndef FSB_STATE_DIR_H
#define FSB_STATE_DIR_H

#include <stddef.h>

#include "options.h"

#define ST_PID "pid"
#define ST_CPU "cpu"
#define ST_MEM "mem"
#define ST_LOG "log"
#define ST_CONSOLE "console"
#define ST_CONSOLE_SOCK "console.sock"  /* QEMU's serial port (launch console) */
#define ST_CONSOLE_LOCK "console.lock"  /* held by the attached launch console */
#define ST_CTL_SOCK "ctl.sock"
#define ST_AGENT_SOCK "agent.sock"
#define ST_ROOT_SOCK "root.sock"
#define ST_PROJ_SOCK "proj.sock"
#define ST_NET_SOCK "net.sock"    /* passt's socket (--net) */
#define ST_PROJECT "project"
#define ST_ROOT "root"            /* the running VM's root tree (/ or --root) */
#define ST_ACCEL "accel"          /* the accelerator the running VM uses */
#define ST_KVM_VERDICT "kvm-verdict"  /* auto: "works" or "broken: why" */
#define ST_INITRD "initrd.img"
#define ST_INITRD_KEY "initrd.key"
#define ST_INITRD_ERR "initrd.err"     /* the image builder's messages */
#define ST_VOLUMES "volumes"      /* the running VM's NAME:GUEST list */
#define ST_MOUNTS "mounts"        /* the running VM's --mount list */
#define ST_ROOT_POLICY "root.policy"  /* the root share's policy: ro, hide rules */
#define ST_QMP_SOCK "qmp.sock"  /* QEMU's QMP (warm start: save, restore, hot-plug) */
#define ST_RAM "ram"              /* the running VM's RAM file (warm start) */
#define ST_NET "net"              /* the running VM's network: off, or on and its -p list */

#define DEFAULT_CPUS 2u
#define DEFAULT_MEM_MIB 1024u

/* The directory for these options; -ENAMETOOLONG, -ENOENT (no HOME). */
int state_dir_resolve(const struct launch_opts *o, char *dir, size_t size);

/* The directory holding the default state dirs of this user's VMs
 * (/run/fsbridge/vm or $XDG_STATE_HOME/fsbridge/vm); -ENOENT. */
int state_dir_root(char *dir, size_t size);

/* mkdir -p with mode 0700, refusing a directory another user could
 * change (safe_dir.h); -errno with a one-line reason in why. */
int state_dir_create(const char *dir, char *why, size_t size);

/* dir/name into out; -ENAMETOOLONG. */
int state_path(char *out, size_t size, const char *dir, const char *name);

/* The first line of dir/name (newline removed); -errno. */
int state_read(const char *dir, const char *name, char *out, size_t size);

/* Replaces dir/name with text (atomically); -errno. */
int state_write(const char *dir, const char *name, const char *text);

/* A number from dir/name, writing dflt there first if the file is
 * missing; -EINVAL for text that is not a number in [min, max]. */
int state_uint(const char *dir, const char *name, unsigned dflt, unsigned min,
    unsigned max, unsigned *out);

/* Removes what a VM that is no longer running left behind (sockets,
 * the project and accel files); keeps cpu, mem, log, console, caches. */
void state_clean_stale(const char *dir);

#endif
