#!/bin/sh
# Prints "ready", then sleeps.
echo ready
exec sleep 300
