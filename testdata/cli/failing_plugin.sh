#!/bin/sh
# An exec plugin that explains itself on stderr and exits 73.
echo "failing plugin: the SSO session has expired, run 'sso login'" >&2
exit 73
