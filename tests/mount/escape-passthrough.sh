#!/bin/sh
# escape-passthrough.sh: tests/mount/escape.sh again with FUSE passthrough on every mount (with_passthrough.sh).
exec bash "$(dirname "$0")/with_passthrough.sh" mount/escape.sh
