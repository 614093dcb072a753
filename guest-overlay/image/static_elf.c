/*
 * static_elf: read the ELF header and program headers and look for
 * PT_INTERP, which only dynamically linked programs have.  64-bit ELF is
 * checked; other classes are accepted unchecked.
 */
#include "config.h"

#include <elf.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "guest-overlay/image/static_elf.h"

static int
read_at(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -ENOEXEC;
}

static int
has_interp(int fd, const Elf64_Ehdr *eh)
{
	Elf64_Phdr ph;
	unsigned i;
	int rc;

	if (eh->e_phentsize != sizeof(ph))
		return -ENOEXEC;
	for (i = 0; i < eh->e_phnum; i++) {
		rc = read_at(fd, &ph, sizeof(ph),
		    (off_t)(eh->e_phoff + (Elf64_Off)i * sizeof(ph)));
		if (rc != 0)
			return rc;
		if (ph.p_type == PT_INTERP)
			return 1;
	}
	return 0;
}

static int
check_fd(int fd)
{
	Elf64_Ehdr eh;
	int rc = read_at(fd, &eh, sizeof(eh), 0);

	if (rc != 0)
		return rc;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return 0;
	if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
		return -ENOEXEC;
	rc = has_interp(fd, &eh);
	return rc == 1 ? -ELIBACC : rc;
}

int
static_elf_check(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		rc = -errno;
		warn("%s", path);
		return rc;
	}
	rc = check_fd(fd);
	close(fd);
	if (rc == -ENOEXEC)
		warnx("%s: not an ELF executable", path);
	else if (rc == -ELIBACC)
		warnx("%s: dynamically linked; the guest image has no shared "
		    "libraries, so it must be linked statically", path);
	else if (rc != 0)
		warnx("%s: %s", path, strerror(-rc));
	return rc;
}
