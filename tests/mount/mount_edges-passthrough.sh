#!/bin/sh
# mount_edges-passthrough.sh: tests/mount/mount_edges.sh again with FUSE passthrough on every mount (with_passthrough.sh).
exec bash "$(dirname "$0")/with_passthrough.sh" mount/mount_edges.sh
