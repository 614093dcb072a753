#!/bin/sh
# mount_edges-user.sh: tests/mount/mount_edges.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" mount/mount_edges.sh
