#!/bin/sh
# warm-user.sh: tests/launch/warm.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" launch/warm.sh
