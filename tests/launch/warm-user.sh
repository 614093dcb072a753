#!/bin/sh
# warm-user.sh: tests/launch/warm.sh again, as the ordinary user fsb-user (tests/run_as_user.sh).
exec bash "$(dirname "$0")/../run_as_user.sh" launch/warm.sh
