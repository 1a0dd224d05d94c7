#!/bin/sh
# Starts a grandchild that holds stdout open, prints its pid, then waits.
sleep 300 &
echo "$!"
wait
