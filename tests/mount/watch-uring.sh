#!/bin/sh
# watch-uring.sh: tests/mount/watch.sh again with every mount served over io_uring (with_uring.sh).
exec bash "$(dirname "$0")/with_uring.sh" mount/watch.sh
