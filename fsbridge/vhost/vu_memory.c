/*
 * vu_memory: maps the guest memory regions the front-end sends and
 * translates guest addresses into pointers, strictly inside one region.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost/vu_memory.h"

void
vu_mem_init(struct vu_memory *mem)
{
	memset(mem, 0, sizeof(*mem));
}

static void
region_unmap(struct vu_mem_region *r)
{
	if (r->map_base != NULL)
		munmap(r->map_base, r->map_len);
	memset(r, 0, sizeof(*r));
}

void
vu_mem_clear(struct vu_memory *mem)
{
	for (unsigned i = 0; i < mem->nregions; i++)
		region_unmap(&mem->regions[i]);
	mem->nregions = 0;
}

int
vu_mem_desc_check(const struct vu_mem_desc *d)
{
	if (d->size == 0)
		return -EINVAL;
	if (d->gpa + (d->size - 1) < d->gpa)
		return -EINVAL;
	if (d->uaddr + (d->size - 1) < d->uaddr)
		return -EINVAL;
	if (d->mmap_offset + d->size < d->mmap_offset)
		return -EINVAL;
	if (d->size > SIZE_MAX / 2)
		return -EINVAL;
	return 0;
}

/* Do [a, a+alen) and [b, b+blen) (both non-empty, no overflow) meet? */
static bool
ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

static int
check_no_overlap(const struct vu_mem_region *regions, unsigned n,
		 const struct vu_mem_desc *d)
{
	for (unsigned i = 0; i < n; i++) {
		const struct vu_mem_desc *o = &regions[i].desc;

		if (ranges_meet(o->gpa, o->size, d->gpa, d->size))
			return -EINVAL;
	}
	return 0;
}

/* The fd must be a regular file (memfd, shm, hugetlbfs) holding the region. */
static int
check_fd_covers(int fd, const struct vu_mem_desc *d)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size < 0 || d->mmap_offset + d->size > (uint64_t)st.st_size)
		return -EINVAL;
	return 0;
}

static int
region_map(struct vu_mem_region *r, const struct vu_mem_desc *d, int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t map_off, delta;
	void *base;
	int rc;

	rc = vu_mem_desc_check(d);
	if (rc < 0)
		return rc;
	rc = check_fd_covers(fd, d);
	if (rc < 0)
		return rc;
	if (page <= 0)
		page = 4096;
	map_off = d->mmap_offset & ~((uint64_t)page - 1);
	delta = d->mmap_offset - map_off;
	base = mmap(NULL, (size_t)(d->size + delta), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, fd, (off_t)map_off);
	if (base == MAP_FAILED)
		return -errno;
	/* guest RAM has no place in our core dumps */
	(void)madvise(base, (size_t)(d->size + delta), MADV_DONTDUMP);
	r->desc = *d;
	r->map_base = base;
	r->map_len = (size_t)(d->size + delta);
	r->host = (uint8_t *)base + delta;
	return 0;
}

int
vu_mem_set_table(struct vu_memory *mem, const struct vu_mem_desc *descs,
		 unsigned n, const int *fds)
{
	struct vu_mem_region fresh[VU_MEM_MAX_REGIONS];
	unsigned done;
	int rc = 0;

	if (n > VU_MEM_MAX_REGIONS)
		return -E2BIG;
	memset(fresh, 0, sizeof(fresh));
	for (done = 0; done < n; done++) {
		rc = vu_mem_desc_check(&descs[done]);
		if (rc == 0)
			rc = check_no_overlap(fresh, done, &descs[done]);
		if (rc == 0)
			rc = region_map(&fresh[done], &descs[done], fds[done]);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		for (unsigned i = 0; i < done; i++)
			region_unmap(&fresh[i]);
		return rc;
	}
	vu_mem_clear(mem);
	memcpy(mem->regions, fresh, sizeof(fresh[0]) * n);
	mem->nregions = n;
	return 0;
}

int
vu_mem_add_region(struct vu_memory *mem, const struct vu_mem_desc *desc, int fd)
{
	int rc;

	if (mem->nregions >= VU_MEM_MAX_REGIONS)
		return -E2BIG;
	rc = vu_mem_desc_check(desc);
	if (rc == 0)
		rc = check_no_overlap(mem->regions, mem->nregions, desc);
	if (rc == 0)
		rc = region_map(&mem->regions[mem->nregions], desc, fd);
	if (rc < 0)
		return rc;
	mem->nregions++;
	return 0;
}

int
vu_mem_add_borrowed(struct vu_memory *mem, const struct vu_mem_desc *desc, void *host)
{
	struct vu_mem_region *r;
	int rc;

	if (mem->nregions >= VU_MEM_MAX_REGIONS)
		return -E2BIG;
	rc = vu_mem_desc_check(desc);
	if (rc == 0)
		rc = check_no_overlap(mem->regions, mem->nregions, desc);
	if (rc < 0)
		return rc;
	r = &mem->regions[mem->nregions++];
	memset(r, 0, sizeof(*r));
	r->desc = *desc;
	r->host = host;
	return 0;
}

int
vu_mem_remove_region(struct vu_memory *mem, const struct vu_mem_desc *desc)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		struct vu_mem_region *r = &mem->regions[i];

		if (r->desc.gpa != desc->gpa || r->desc.size != desc->size ||
		    r->desc.uaddr != desc->uaddr)
			continue;
		region_unmap(r);
		mem->regions[i] = mem->regions[mem->nregions - 1];
		memset(&mem->regions[mem->nregions - 1], 0, sizeof(*r));
		mem->nregions--;
		return 0;
	}
	return -ENOENT;
}

/*
 * Offset of [addr, addr+len) inside [base, base+size), or -1 when the
 * range does not lie wholly inside.  Written so that nothing overflows.
 */
static int64_t
offset_inside(uint64_t base, uint64_t size, uint64_t addr, uint64_t len)
{
	uint64_t off;

	if (addr < base)
		return -1;
	off = addr - base;
	if (off >= size || len > size - off)
		return -1;
	return (int64_t)off;
}

void *
vu_mem_gpa_to_ptr(const struct vu_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct vu_mem_region *r = &mem->regions[i];
		int64_t off = offset_inside(r->desc.gpa, r->desc.size, gpa, len);

		if (off >= 0)
			return r->host + off;
	}
	return NULL;
}

void *
vu_mem_uaddr_to_ptr(const struct vu_memory *mem, uint64_t uaddr, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct vu_mem_region *r = &mem->regions[i];
		int64_t off = offset_inside(r->desc.uaddr, r->desc.size, uaddr, len);

		if (off >= 0)
			return r->host + off;
	}
	return NULL;
}
