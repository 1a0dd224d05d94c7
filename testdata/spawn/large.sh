#!/bin/sh
# Writes the numbers 1..$1, one per line (2800000 gives about 21 MB).
exec seq 1 "$1"
