#!/bin/sh
# prefill-uring.sh: tests/mount/prefill.sh again with every mount served over io_uring (with_uring.sh).
exec bash "$(dirname "$0")/with_uring.sh" mount/prefill.sh
