#!/bin/sh
# Deliberately not executable (mode 0644): spawning it is permission-denied.
exit 0
