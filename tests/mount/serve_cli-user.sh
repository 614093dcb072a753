#!/bin/sh
# serve_cli-user.sh: tests/mount/serve_cli.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" mount/serve_cli.sh
