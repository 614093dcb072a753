#!/bin/sh
# posix-passthrough.sh: tests/mount/posix.sh again with FUSE passthrough on every mount (with_passthrough.sh).
exec bash "$(dirname "$0")/with_passthrough.sh" mount/posix.sh
