#!/bin/sh
# watch-passthrough.sh: tests/mount/watch.sh again with FUSE passthrough on every mount (with_passthrough.sh).
exec bash "$(dirname "$0")/with_passthrough.sh" mount/watch.sh
