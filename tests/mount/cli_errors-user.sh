#!/bin/sh
# cli_errors-user.sh: tests/mount/cli_errors.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" mount/cli_errors.sh
