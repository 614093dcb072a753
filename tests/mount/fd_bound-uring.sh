#!/bin/sh
# fd_bound-uring.sh: tests/mount/fd_bound.sh again with every mount served over io_uring (with_uring.sh).
exec bash "$(dirname "$0")/with_uring.sh" mount/fd_bound.sh
