/* mkdir_p.h: mkdir -p, for the guest's init and agent (libc only). */
#ifndef FSB_MKDIR_P_H
#define FSB_MKDIR_P_H

/* Creates every missing directory of an absolute path (0755); -errno. */
int mkdir_p(const char *path);

#endif
