#!/bin/sh
# fd_bound-user.sh: tests/mount/fd_bound.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" mount/fd_bound.sh
