#!/bin/sh
# idmap-passthrough.sh: tests/mount/idmap.sh again with FUSE passthrough on every mount (with_passthrough.sh).
exec bash "$(dirname "$0")/with_passthrough.sh" mount/idmap.sh
