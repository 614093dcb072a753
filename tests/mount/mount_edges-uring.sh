#!/bin/sh
# mount_edges-uring.sh: tests/mount/mount_edges.sh again with every mount served over io_uring (with_uring.sh).
exec bash "$(dirname "$0")/with_uring.sh" mount/mount_edges.sh
