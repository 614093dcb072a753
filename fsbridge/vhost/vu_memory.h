/*
 * vu_memory: the guest memory table of one vhost-user connection.  Each
 * region is a piece of guest RAM that the front-end handed over as an fd
 * (SET_MEM_TABLE, ADD_MEM_REG) and that we map MAP_SHARED.  Translations
 * (guest-physical or front-end user address -> our pointer) succeed only
 * when the whole range lies inside one mapped region, so nothing built
 * on them can reach outside guest memory.
 *
 * Not locked: the device stops every queue worker before it changes the
 * table; readers only run while the table is still.
 */
#ifndef FSBRIDGE_VHOST_VU_MEMORY_H
#define FSBRIDGE_VHOST_VU_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/* Regions one table holds (also our answer to GET_MAX_MEM_SLOTS). */
#define VU_MEM_MAX_REGIONS	32

/* A region as the front-end describes it. */
struct vu_mem_desc {
	uint64_t gpa;		/* guest physical address */
	uint64_t size;
	uint64_t uaddr;		/* where the front-end has it mapped */
	uint64_t mmap_offset;	/* of the region inside the fd */
};

struct vu_mem_region {
	struct vu_mem_desc desc;
	uint8_t *host;		/* our pointer to the region's first byte */
	void *map_base;		/* what munmap gets; NULL when borrowed */
	size_t map_len;
};

struct vu_memory {
	struct vu_mem_region regions[VU_MEM_MAX_REGIONS];
	unsigned nregions;
};

void vu_mem_init(struct vu_memory *mem);
/* Unmap every region; the table is empty afterwards. */
void vu_mem_clear(struct vu_memory *mem);

/*
 * Replace the whole table by n regions mapped from fds[i] (SET_MEM_TABLE).
 * All or nothing: on error the old table is kept.  The fds stay the
 * caller's to close.
 */
int vu_mem_set_table(struct vu_memory *mem, const struct vu_mem_desc *descs,
		     unsigned n, const int *fds);
/* Map one more region from fd (ADD_MEM_REG); fd stays the caller's. */
int vu_mem_add_region(struct vu_memory *mem, const struct vu_mem_desc *desc, int fd);
/* Unmap the region with this gpa, size and uaddr (REM_MEM_REG). */
int vu_mem_remove_region(struct vu_memory *mem, const struct vu_mem_desc *desc);
/*
 * Add a region backed by memory the caller owns (tests, fuzzing): it is
 * never unmapped by this module.
 */
int vu_mem_add_borrowed(struct vu_memory *mem, const struct vu_mem_desc *desc, void *host);

/* Our pointer to guest-physical [gpa, gpa+len), or NULL. len may be 0. */
void *vu_mem_gpa_to_ptr(const struct vu_memory *mem, uint64_t gpa, uint64_t len);
/* Our pointer to front-end user address range [uaddr, uaddr+len), or NULL. */
void *vu_mem_uaddr_to_ptr(const struct vu_memory *mem, uint64_t uaddr, uint64_t len);

/* Checks a description alone: non-empty, no overflow.  0 or -EINVAL. */
int vu_mem_desc_check(const struct vu_mem_desc *desc);

#endif
