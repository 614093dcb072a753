#!/bin/sh
# launch-user.sh: tests/launch/launch.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" launch/launch.sh
