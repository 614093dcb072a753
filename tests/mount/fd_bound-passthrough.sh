#!/bin/sh
# fd_bound-passthrough.sh: tests/mount/fd_bound.sh again with FUSE passthrough on every mount (with_passthrough.sh).
exec bash "$(dirname "$0")/with_passthrough.sh" mount/fd_bound.sh
