#!/bin/sh
# escape-user.sh: tests/mount/escape.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" mount/escape.sh
