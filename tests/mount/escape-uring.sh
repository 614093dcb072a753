#!/bin/sh
# escape-uring.sh: tests/mount/escape.sh again with every mount served over io_uring (with_uring.sh).
exec bash "$(dirname "$0")/with_uring.sh" mount/escape.sh
