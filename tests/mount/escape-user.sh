#!/bin/sh
# escape-user.sh: tests/mount/escape.sh again, as the ordinary user fsb-user (tests/run_as_user.sh).
exec bash "$(dirname "$0")/../run_as_user.sh" mount/escape.sh
