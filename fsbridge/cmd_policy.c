/*
 * cmd_policy: `fsbridge policy check FILE`: parse a policy file and print
 * the effective policy, or say which line is wrong; and the policy checks
 * the other subcommands share (policy files, the whole combination).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "policy.h"

#define POLICY_FILE_MAX (1 << 20)

int
cli_read_file(const char *path, char **text)
{
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(POLICY_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (len < POLICY_FILE_MAX && (n = read(fd, buf + len, POLICY_FILE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0 || len == POLICY_FILE_MAX) {
		int rc = n < 0 ? -errno : -EFBIG;

		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}

int
cli_parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int
cli_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || v < 0 || v > 86400)
		return -EINVAL;
	*out = v;
	return 0;
}

int
cli_apply_policy_file(struct policy *p, const char *path)
{
	char err[256], *text;
	int rc;

	rc = cli_read_file(path, &text);
	if (rc != 0) {
		fprintf(stderr, "fsbridge: policy file %s: %s\n", path, strerror(-rc));
		return EXIT_USAGE;
	}
	rc = policy_parse_text(p, text, err, sizeof(err));
	free(text);
	if (rc != 0) {
		fprintf(stderr, "fsbridge: policy file %s: %s\n", path, err);
		return EXIT_USAGE;
	}
	return 0;
}

int
cli_check_policy(const struct policy *p)
{
	char err[256];

	if (policy_check_combination(p, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "fsbridge: -o: %s\n", err);
	return EXIT_USAGE;
}

static void
policy_usage(FILE *out)
{
	fprintf(out, "usage: fsbridge policy check FILE\n"
	    "Validate a policy file and print the effective policy.\n");
}

int
cmd_policy(int argc, char **argv)
{
	struct policy p;
	char err[256], *text;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		policy_usage(stdout);
		return EXIT_OK;
	}
	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "fsbridge: usage: fsbridge policy check FILE\n");
		return EXIT_USAGE;
	}
	rc = cli_read_file(argv[2], &text);
	if (rc != 0) {
		fprintf(stderr, "fsbridge: %s: %s\n", argv[2], strerror(-rc));
		return EXIT_FAILURE_RUN;
	}
	policy_init_default(&p);
	rc = policy_parse_text(&p, text, err, sizeof(err));
	free(text);
	if (rc == 0)
		rc = policy_check_combination(&p, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "fsbridge: %s: %s\n", argv[2], err);
		return EXIT_FAILURE_RUN;
	}
	policy_print(&p, stdout);
	return EXIT_OK;
}
