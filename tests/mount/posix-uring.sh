#!/bin/sh
# posix-uring.sh: tests/mount/posix.sh again with every mount served over io_uring (with_uring.sh).
exec bash "$(dirname "$0")/with_uring.sh" mount/posix.sh
