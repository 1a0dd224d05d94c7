#!/bin/sh
# Kills itself with the signal named in $1 (TERM, KILL…).
kill -s "$1" $$
sleep 5
