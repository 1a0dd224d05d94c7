#!/bin/sh
# Writes the bytes 0..255 in order, once.
i=0
while [ "$i" -lt 256 ]; do
  printf "\\$(printf %03o "$i")"
  i=$((i + 1))
done
