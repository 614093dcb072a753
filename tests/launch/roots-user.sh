#!/bin/sh
# roots-user.sh: tests/launch/roots.sh again, as the ordinary user fsb-user (tests/run_as_user.sh).
exec bash "$(dirname "$0")/../run_as_user.sh" launch/roots.sh
