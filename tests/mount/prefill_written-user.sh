#!/bin/sh
# prefill_written-user.sh: tests/mount/prefill_written.sh again, as the ordinary user fsb-user (tests/lib/run_as_user.sh).
exec bash "$(dirname "$0")/../lib/run_as_user.sh" mount/prefill_written.sh
