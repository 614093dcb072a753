/*
 * static_elf: make sure a program can run with no shared libraries (the
 * guest image has none): an ELF file without a program interpreter.
 */
#ifndef GUEST_OVERLAY_STATIC_ELF_H
#define GUEST_OVERLAY_STATIC_ELF_H

/* 0 if path is a statically linked ELF executable; otherwise -errno,
 * printed: -ENOEXEC (not an ELF executable), -ELIBACC (dynamic). */
int static_elf_check(const char *path);

#endif
