#!/bin/sh
# watch-user.sh: tests/launch/watch.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" launch/watch.sh
