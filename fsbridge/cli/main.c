/*
 * main: the fsbridge command: dispatch to a subcommand.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: fsbridge mount [-f] [-o OPTIONS] SRC MNT   serve SRC at MNT through FUSE\n"
	    "       fsbridge umount [-l] MNT                  unmount an fsbridge mount\n"
	    "       fsbridge serve --socket PATH [-o OPTIONS] SRC\n"
	    "                                                 serve SRC to QEMU guests (vhost-user-fs)\n"
	    "       fsbridge policy check FILE                 validate a policy file, print it\n"
	    "       fsbridge --help | --version\n"
	    "\n"
	    "Run 'fsbridge mount --help' for the mount options; see fsbridge(1).\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "fsbridge: missing command (try 'fsbridge --help')\n");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("fsbridge %s\n", PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "mount") == 0)
		return cmd_mount(argc - 1, argv + 1);
	if (strcmp(argv[1], "umount") == 0 || strcmp(argv[1], "unmount") == 0)
		return cmd_umount(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "policy") == 0)
		return cmd_policy(argc - 1, argv + 1);
	fprintf(stderr, "fsbridge: unknown command '%s' (try 'fsbridge --help')\n", argv[1]);
	return EXIT_USAGE;
}
