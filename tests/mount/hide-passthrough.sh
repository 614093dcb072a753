#!/bin/sh
# hide-passthrough.sh: tests/mount/hide.sh again with FUSE passthrough on every mount (with_passthrough.sh).
exec bash "$(dirname "$0")/with_passthrough.sh" mount/hide.sh
