#!/bin/sh
# Writes "out" to stdout and "err" to stderr, then exits 3.
printf out
printf err >&2
exit 3
