/*
 * cmd_policy: `fsbridge policy check FILE`: parse a policy file and print
 * the effective policy, or say which line is wrong; and the policy checks
 * the other subcommands share: reading a policy file (only a regular one,
 * every byte of it) for `-o policy=FILE`, and the whole combination.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "policy.h"

#define POLICY_FILE_MAX (1 << 20)

int
cli_read_file(const char *path, char **text, size_t *len_out)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n = 0;
	int fd;

	/* a fifo would block the open and the read: look before opening,
	 * and check again what was opened (without ever waiting on it) */
	if (stat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	buf = malloc(POLICY_FILE_MAX + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (len < POLICY_FILE_MAX + 1 && (n = read(fd, buf + len, POLICY_FILE_MAX + 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0 || len > POLICY_FILE_MAX) {
		int rc = n < 0 ? -errno : -EFBIG;

		free(buf);
		return rc;
	}
	buf[len] = '\0';
	*text = buf;
	*len_out = len;
	return 0;
}

const char *
cli_read_file_error(int rc)
{
	switch (rc) {
	case -EINVAL:
		return "not a regular file (a policy file must be one)";
	case -EFBIG:
		return "larger than 1 MiB (a policy file is a few lines)";
	default:
		return strerror(-rc);
	}
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
	size_t len;
	int rc;

	rc = cli_read_file(path, &text, &len);
	if (rc != 0) {
		fprintf(stderr, "fsbridge: policy file %s: %s\n", path, cli_read_file_error(rc));
		return EXIT_USAGE;
	}
	rc = policy_parse_buf(p, text, len, err, sizeof(err));
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
	size_t len;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		policy_usage(stdout);
		return EXIT_OK;
	}
	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "fsbridge: usage: fsbridge policy check FILE\n");
		return EXIT_USAGE;
	}
	rc = cli_read_file(argv[2], &text, &len);
	if (rc != 0) {
		fprintf(stderr, "fsbridge: %s: %s\n", argv[2], cli_read_file_error(rc));
		return EXIT_FAILURE_RUN;
	}
	policy_init_default(&p);
	rc = policy_parse_buf(&p, text, len, err, sizeof(err));
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
