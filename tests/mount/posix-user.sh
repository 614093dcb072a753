#!/bin/sh
# posix-user.sh: tests/mount/posix.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" mount/posix.sh
