#!/bin/sh
# prefill_written-uring.sh: tests/mount/prefill_written.sh again with every mount served over io_uring (with_uring.sh).
exec bash "$(dirname "$0")/with_uring.sh" mount/prefill_written.sh
