#!/bin/sh
# posix-passthrough-uring.sh: tests/mount/posix.sh again with passthrough on every mount, served over io_uring (with_passthrough.sh, with_uring.sh).
FSB_MOUNT_OPTS=io_uring=on,passthrough=on exec bash "$(dirname "$0")/with_passthrough.sh" mount/posix.sh
