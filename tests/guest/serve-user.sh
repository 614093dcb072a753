#!/bin/sh
# serve-user.sh: tests/guest/serve.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" guest/serve.sh
