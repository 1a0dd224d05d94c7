#!/bin/sh
# Exits with the code given as $1.
exit "$1"
