/*
 * accel.h: KVM or TCG.  `tcg` and `kvm` are what they say; `auto` uses
 * KVM when /dev/kvm answers and a KVM guest has not already been found
 * broken on this machine (the verdict is kept in the state dir, file
 * kvm-verdict); the supervisor gives a KVM boot a bounded time
 * (ACCEL_PROBE_SECONDS) before it records "broken" and boots with TCG.
 */
#ifndef FSB_ACCEL_H
#define FSB_ACCEL_H

#include <stdbool.h>
#include <stddef.h>

#define ACCEL_PROBE_SECONDS 20

/* Is "kvm", "tcg" or "auto" */
bool accel_valid(const char *name);

/* Can this process use /dev/kvm (open + KVM_GET_API_VERSION)?  Why not in why. */
bool accel_kvm_usable(char *why, size_t size);

/* The accelerator to try first for a request: "kvm" or "tcg"; *probe
 * is set when a failed KVM boot must fall back to TCG (auto). */
const char *accel_first(const char *requested, const char *state, bool *probe);

/* Remembers that KVM works (verdict "works") or does not ("broken: why"). */
void accel_remember(const char *state, bool works, const char *why);

#endif
