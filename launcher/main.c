/*
 * main: the launch command line.  `launch [OPTIONS] [--] CMD ARGS...`
 * runs CMD in the VM (booting it first if needed); `launch boot`,
 * `status`, `halt [-f]`, `ps`, `logs`, `console` and `vms` manage the VMs;
 * `doctor` checks the setup; `volume ...` manages volumes.  Parsing and
 * dispatch only.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "admin.h"
#include "agent_client.h"
#include "console.h"
#include "doctor.h"
#include "env_file.h"
#include "mount_spec.h"
#include "options.h"
#include "state_dir.h"
#include "qemu_argv.h"
#include "safe_dir.h"
#include "state_cmd.h"
#include "vm.h"
#include "volume.h"
#include "volume_cmd.h"

static void
usage(FILE *f)
{
	fputs("usage: launch [OPTIONS] [--] CMD [ARGS...]\n"
	    "       launch [OPTIONS] boot | status | halt [-f] | ps | logs | console [-i] | vms\n"
	    "       launch [OPTIONS] doctor\n"
	    "       launch [OPTIONS] save [NAME] | state ls | state rm NAME...\n"
	    "       launch volume ls | create NAME SIZE | rm NAME | export NAME FILE.zst |\n"
	    "                     import NAME FILE.zst\n"
	    "\n"
	    "Run CMD in a QEMU guest that sees this machine's files (the root read-only\n"
	    "with a throw-away overlay, the project directory read-write at the same\n"
	    "path), with the same arguments, environment, working directory, stdin,\n"
	    "stdout, stderr and exit status.  The first command boots the VM; it stays\n"
	    "up for the next ones until 'launch halt'.\n"
	    "\n"
	    "  --state DIR        the VM's state directory (default $FSBRIDGE_STATE_DIR,\n"
	    "                     else /run/fsbridge/vm/NAME as root, else\n"
	    "                     $XDG_STATE_HOME/fsbridge/vm/NAME)\n"
	    "  --name NAME        which VM (default: default)\n"
	    "  --project DIR      the read-write share (default: the nearest parent of\n"
	    "                     the working directory with .git, else the directory)\n"
	    "  --qemu PATH        QEMU binary (default $FSBRIDGE_QEMU, else\n"
	    "                     qemu-system-<machine> on PATH)\n"
	    "  --kernel IMAGE     guest kernel (default: the newest /boot/vmlinuz-* with\n"
	    "                     modules)\n"
	    "  --accel A          kvm, tcg or auto (default $FSBRIDGE_ACCEL, else tcg);\n"
	    "                     auto tries KVM for a bounded time and remembers a\n"
	    "                     KVM that cannot run guests\n"
	    "  --volume NAME:GUEST[:SIZE]\n"
	    "                     attach volume NAME (created at SIZE, default 8G, and\n"
	    "                     formatted ext4 on first use) at GUEST; repeatable\n"
	    "  --mount HOST:GUEST[:ro|rw][:symlinks=deny|opaque|follow]\n"
	    "                     share directory HOST (read-write unless ro; symlink\n"
	    "                     policy as for fsbridge serve; '\\:' for a ':' in HOST;\n"
	    "                     or nfs://SERVER/EXPORT) at GUEST; repeatable\n"
	    "  --root DIR         the guest's root tree, read-only with a throw-away\n"
	    "                     overlay (default: this machine's /), e.g. an\n"
	    "                     extracted Alpine or Debian root filesystem\n"
	    "  --isolated         run CMD on a fresh overlay of the root: what it writes\n"
	    "                     outside the project, volumes and mounts is gone when\n"
	    "                     it exits (default: kept until the VM halts)\n"
	    "  --net              the outside network through passt, without the host's\n"
	    "                     own services (off by default)\n"
	    "  --net=host         the same, and the guest reaches the host's loopback\n"
	    "                     services at 10.0.2.2\n"
	    "  --hide PATH        hide host PATH (and beneath) from the guest's root;\n"
	    "                     repeatable\n"
	    "  --expose PATH      take PATH (and the rules beneath it) off the hide\n"
	    "                     list; repeatable, in order with --hide\n"
	    "  --policy FILE      hide = PATH / expose = PATH lines for the root share\n"
	    "  -p, --publish HOST:GUEST\n"
	    "                     forward 127.0.0.1:HOST to the guest's TCP port GUEST\n"
	    "                     (implies --net); repeatable\n"
	    "  -e NAME[=VALUE]    set (or pass) an environment variable; repeatable\n"
	    "      --env-file FILE  the same, one NAME=VALUE or NAME per line ('#'\n"
	    "                     comments); repeatable\n"
	    "  -n                 stdin from /dev/null (launch reads its stdin eagerly)\n"
	    "  -t, -T             run the command on a pseudo-terminal (-t) or on pipes\n"
	    "                     (-T); default: a terminal when stdin and stdout are\n"
	    "                     terminals\n"
	    "      --no-env       pass only the -e and --env-file variables\n"
	    "      --env-all      pass secret-looking variables too (*_TOKEN, AWS_*,\n"
	    "                     SSH_AUTH_SOCK, ...: see launch(1))\n"
	    "      --warm         start a stopped VM from a saved state when one\n"
	    "                     matches, save one at the first boot (the default;\n"
	    "                     FSBRIDGE_WARM=1 too)\n"
	    "      --cold         boot the VM: no saved state is restored or made\n"
	    "                     (also FSBRIDGE_WARM=0)\n"
	    "  -q, --quiet        no messages from boot and halt\n"
	    "  -f, --force        halt: kill the VM instead of powering it off\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "Boot options (--project, --root, --qemu, --kernel, --accel, --volume, --mount,\n"
	    "--net, -p, --hide, --expose, --policy) apply when the VM boots; a running VM refuses another root,\n"
	    "volumes or mounts.\n"
	    "The VM's cpu and mem files in the state dir (default 2 and 1024) are read\n"
	    "at each boot.\n"
	    "Exit status: CMD's own (killed by signal S: 128+S); 125 when launch could\n"
	    "not run it; 2 bad usage.  status: 0 running, 3 not running.\n"
	    "logs prints the VM's log; console attaches to the running guest's serial\n"
	    "console (a root shell at the first input; Ctrl-] detaches) when stdin is a\n"
	    "terminal or with -i, else prints what it showed; vms lists this user's VMs\n"
	    "in the default place; ps lists the guest's processes.\n"
	    "doctor checks every prerequisite (exit 0 when all pass).  Volumes live in\n"
	    "$FSBRIDGE_VOLUME_DIR, else $XDG_STATE_HOME/fsbridge/volumes (root:\n"
	    "/run/fsbridge/volumes); export and import stream them through zstd.\n"
	    "See launch(1).\n", f);
}

static int __attribute__((format(printf, 1, 2)))
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("launch: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see launch --help)\n", stderr);
	return LAUNCH_EXIT_USAGE;
}

enum {
	OPT_STATE = 256, OPT_NAME, OPT_QEMU, OPT_KERNEL, OPT_ACCEL, OPT_PROJECT, OPT_NO_ENV,
	OPT_VOLUME, OPT_NET, OPT_MOUNT, OPT_ROOT, OPT_ISOLATED, OPT_ENV_FILE,
	OPT_HIDE, OPT_EXPOSE, OPT_POLICY, OPT_ENV_ALL, OPT_COLD, OPT_WARM,
};

static const struct option longopts[] = {
	{ "state", required_argument, NULL, OPT_STATE },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "qemu", required_argument, NULL, OPT_QEMU },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "project", required_argument, NULL, OPT_PROJECT },
	{ "env", required_argument, NULL, 'e' },
	{ "no-env", no_argument, NULL, OPT_NO_ENV },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "volume", required_argument, NULL, OPT_VOLUME },
	{ "net", optional_argument, NULL, OPT_NET },
	{ "hide", required_argument, NULL, OPT_HIDE },
	{ "expose", required_argument, NULL, OPT_EXPOSE },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "env-all", no_argument, NULL, OPT_ENV_ALL },
	{ "mount", required_argument, NULL, OPT_MOUNT },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "isolated", no_argument, NULL, OPT_ISOLATED },
	{ "cold", no_argument, NULL, OPT_COLD },
	{ "warm", no_argument, NULL, OPT_WARM },
	{ "publish", required_argument, NULL, 'p' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "force", no_argument, NULL, 'f' },
	{ "attach", no_argument, NULL, 'i' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The --mount or --volume given earlier at guest path `guest`, or NULL. */
static const char *
guest_taken(const struct launch_opts *o, const char *guest)
{
	static struct mount_share m;
	struct volume_attach v;
	char why[4400];

	for (int i = 0; i < o->nmount; i++)
		if (mount_parse_spec(o->mount[i], &m, why, sizeof(why)) == 0 &&
		    strcmp(m.guest, guest) == 0)
			return o->mount[i];
	for (int i = 0; i < o->nvolume; i++)
		if (volume_parse_spec(o->volume[i], &v, why, sizeof(why)) == 0 &&
		    strcmp(v.guest, guest) == 0)
			return o->volume[i];
	return NULL;
}

static int
add_volume(struct launch_opts *o, const char *arg)
{
	struct volume_attach v;
	const char *taken;
	char why[256];

	if (o->nvolume == LAUNCH_MAX_VOLUMES)
		return bad_usage("too many --volume options (at most %d)", LAUNCH_MAX_VOLUMES);
	if (volume_parse_spec(arg, &v, why, sizeof(why)) != 0)
		return bad_usage("--volume %s: %s", arg, why);
	for (int i = 0; i < o->nvolume; i++)
		if (strncmp(o->volume[i], arg, strlen(v.name) + 1) == 0)
			return bad_usage("--volume %s: volume %s given twice", arg, v.name);
	if ((taken = guest_taken(o, v.guest)) != NULL)
		return bad_usage("--volume %s: %s is already the place of %s", arg, v.guest, taken);
	o->volume[o->nvolume++] = arg;
	return 0;
}

static int
add_mount(struct launch_opts *o, const char *arg)
{
	static struct mount_share m;
	const char *taken;
	char why[4400];

	if (o->nmount == LAUNCH_MAX_MOUNTS)
		return bad_usage("too many --mount options (at most %d)", LAUNCH_MAX_MOUNTS);
	if (mount_parse_spec(arg, &m, why, sizeof(why)) != 0)
		return bad_usage("--mount %s: %s", arg, why);
	if ((taken = guest_taken(o, m.guest)) != NULL)
		return bad_usage("--mount %s: %s is already the place of %s", arg, m.guest, taken);
	o->mount[o->nmount++] = arg;
	return 0;
}

/* One option; 0, or launch's exit status to stop with (-1: help done). */
static int
apply_option(struct launch_opts *o, int c, const char *arg, const char *word)
{
	switch (c) {
	case OPT_STATE: o->state = arg; break;
	case OPT_NAME:
		if (arg[0] == '\0' || strchr(arg, '/') != NULL || arg[0] == '.')
			return bad_usage("--name %s: a plain name, please", arg);
		o->name = arg;
		break;
	case OPT_QEMU: o->qemu = arg; break;
	case OPT_KERNEL: o->kernel = arg; break;
	case OPT_ACCEL:
		if (!accel_valid(arg))
			return bad_usage("--accel %s: expected kvm, tcg or auto", arg);
		o->accel = arg;
		break;
	case OPT_PROJECT: o->project = arg; break;
	case 'e':
		if (o->nenv == LAUNCH_MAX_ENV)
			return bad_usage("too many -e options");
		if (arg[0] == '=' || arg[0] == '\0')
			return bad_usage("-e %s: expected NAME or NAME=VALUE", arg);
		o->env[o->nenv++] = arg;
		break;
	case OPT_NO_ENV: o->no_env = true; break;
	case OPT_ENV_FILE: {
		char why[256];

		if (env_file_read(arg, o, why, sizeof(why)) != 0)
			return bad_usage("--env-file %s: %s", arg, why);
		break;
	}
	case OPT_VOLUME: return add_volume(o, arg);
	case OPT_NET:
		if (arg != NULL && strcmp(arg, "host") != 0)
			return bad_usage("--net=%s: expected --net or --net=host", arg);
		o->net = true;
		o->net_host = arg != NULL;
		break;
	case OPT_HIDE:
	case OPT_EXPOSE:
		if (o->nhide == LAUNCH_MAX_HIDE)
			return bad_usage("too many --hide/--expose options");
		if (arg[0] == '\0')
			return bad_usage("%s: a path, please", word);
		o->expose[o->nhide] = c == OPT_EXPOSE;
		o->hide[o->nhide++] = arg;
		break;
	case OPT_POLICY: o->policy = arg; break;
	case OPT_ENV_ALL: o->env_all = true; break;
	case OPT_MOUNT: return add_mount(o, arg);
	case OPT_ROOT: o->root = arg; break;
	case OPT_ISOLATED: o->isolated = true; break;
	case OPT_COLD: o->cold = true; break;
	case OPT_WARM: o->warm = true; break;
	case 'p':
		if (o->nport == LAUNCH_MAX_PORTS)
			return bad_usage("too many -p options");
		if (!port_spec_valid(arg))
			return bad_usage("-p %s: expected HOST:GUEST TCP ports (1-65535)", arg);
		o->port[o->nport++] = arg;
		o->net = true;
		break;
	case 'q': o->quiet = true; break;
	case 'n': o->no_stdin = true; break;
	case 't': o->tty = 1; break;
	case 'T': o->tty = 0; break;
	case 'f': o->force = true; break;
	case 'i': o->attach = true; break;
	case 'h': usage(stdout); return -1;
	case ':': return bad_usage("option '%s' needs a value", word);
	default: return bad_usage("unknown option '%s'", word);
	}
	return 0;
}

/* Options up to the first non-option word (or "--"); 0 or an exit status.
 * With permute, options anywhere (GNU getopt): for the words after a
 * subcommand (launch halt --name x -f), whose other words getopt moves
 * to the end, from optind on. */
static int
parse_options(struct launch_opts *o, int argc, char **argv, bool *dashdash, bool permute)
{
	int c;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, permute ? ":e:p:nqfhtTi" : "+:e:p:nqfhtTi", longopts,
	    NULL)) != -1) {
		int rc = apply_option(o, c, optarg, argv[optind - 1]);

		if (rc != 0)
			return rc;
	}
	*dashdash = optind > 1 && strcmp(argv[optind - 1], "--") == 0;
	return 0;
}

static void
defaults(struct launch_opts *o)
{
	const char *accel = getenv("FSBRIDGE_ACCEL"), *warm = getenv("FSBRIDGE_WARM");

	if (o->accel == NULL)
		o->accel = accel != NULL && accel_valid(accel) ? accel : "tcg";
	/* warm unless --cold, or FSBRIDGE_WARM=0 without --warm */
	if (warm != NULL && strcmp(warm, "0") == 0 && !o->warm)
		o->cold = true;
}

static int
admin(const char *cmd, struct launch_opts *o, int argc, char **argv, const char *state)
{
	if (argc > 0)
		return bad_usage("%s: unexpected argument '%s'", cmd, argv[0]);
	if (strcmp(cmd, "boot") == 0)
		return admin_boot(o, state);
	if (strcmp(cmd, "logs") == 0)
		return admin_show(state, ST_LOG);
	if (strcmp(cmd, "console") == 0)
		return console_attach(state, o->attach);
	if (strcmp(cmd, "vms") == 0)
		return admin_vms();
	if (strcmp(cmd, "status") == 0)
		return admin_status(o, state);
	return admin_halt(o, state);
}

/* launch ps: the guest's processes, from the agent (never boots). */
static int
guest_ps(struct launch_opts *o, int argc, const char *state)
{
	static char *ps_argv[] = { "ps", NULL };
	int fd;

	if (argc > 0)
		return bad_usage("ps: no arguments expected");
	if (vm_running(state) < 0) {
		printf("not running (state %s)\n", state);
		return 3;
	}
	fd = vm_connect(o, state);
	if (fd < 0)
		return LAUNCH_EXIT_FAIL;
	o->guest_ps = true;
	o->no_stdin = true;
	o->tty = 0;
	return agent_run(fd, ps_argv, o, state);
}

/* An existing state dir that another user could change is refused before
 * anything in it is read, connected to or written (safe_dir.h). */
static bool
state_unsafe(const char *state)
{
	char why[4400];
	int rc = safe_dir_check(state, why, sizeof(why));

	if (rc == 0 || rc == -ENOENT)
		return false;
	fprintf(stderr, "launch: state directory %s: %s\n", state, why);
	return true;
}

static bool
is_admin(const char *word)
{
	static const char *const words[] = { "boot", "status", "halt", "logs", "console", "vms" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(word, words[i]) == 0)
			return true;
	return false;
}

/* A word that names a subcommand rather than a command to run. */
static bool
is_subcommand(const char *word)
{
	return is_admin(word) || strcmp(word, "ps") == 0 || strcmp(word, "doctor") == 0 ||
	    strcmp(word, "save") == 0 || strcmp(word, "state") == 0;
}

int
main(int argc, char **argv)
{
	static struct launch_opts o = { .tty = -1 };
	char state[4096];
	bool dashdash = false;
	int rc = parse_options(&o, argc, argv, &dashdash, false), fd;

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (optind == argc)
		return bad_usage("no command (launch -- CMD ARGS..., or boot, status, halt)");
	if (!dashdash && is_subcommand(argv[optind])) {
		bool dd;
		int first = optind;

		/* options after the subcommand too; its own words follow them */
		rc = parse_options(&o, argc - first, argv + first, &dd, true);
		if (rc != 0)
			return rc < 0 ? 0 : rc;
		memmove(argv + first + 1, argv + first + optind,
		    (size_t)(argc - first - optind) * sizeof(*argv));
		argc = first + 1 + (argc - first - optind);
		optind = first;
	}
	defaults(&o);
	if (!dashdash && strcmp(argv[optind], "volume") == 0)
		return volume_cmd(argc - optind - 1, argv + optind + 1);
	rc = state_dir_resolve(&o, state, sizeof(state));
	if (rc != 0) {
		fprintf(stderr, "launch: no state directory (set HOME or use --state)\n");
		return LAUNCH_EXIT_FAIL;
	}
	if (!dashdash && strcmp(argv[optind], "doctor") == 0) {   /* reports it */
		if (optind + 1 != argc)
			return bad_usage("doctor: unexpected argument '%s'", argv[optind + 1]);
		return doctor(&o, state);
	}
	if (state_unsafe(state))
		return LAUNCH_EXIT_FAIL;
	if (!dashdash && strcmp(argv[optind], "ps") == 0)
		return guest_ps(&o, argc - optind - 1, state);
	if (!dashdash && strcmp(argv[optind], "save") == 0)
		return state_save_cmd(&o, argc - optind - 1, argv + optind + 1, state);
	if (!dashdash && strcmp(argv[optind], "state") == 0)
		return state_cmd(argc - optind - 1, argv + optind + 1, state);
	if (!dashdash && is_admin(argv[optind]))
		return admin(argv[optind], &o, argc - optind - 1, argv + optind + 1, state);
	fd = vm_connect(&o, state);
	if (fd < 0)
		return LAUNCH_EXIT_FAIL;
	if (vm_check_cwd(state) != 0) {
		close(fd);
		return LAUNCH_EXIT_FAIL;
	}
	return agent_run(fd, argv + optind, &o, state);
}
