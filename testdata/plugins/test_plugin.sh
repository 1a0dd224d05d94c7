#!/bin/sh
# A well-behaved exec credential plugin for tests (like client-go's
# testdata/test-plugin.sh). Everything is driven by the environment:
#   TEST_OUTPUT       written to stdout as is
#   TEST_OUTPUT_FILE  or: this file is copied to stdout
#   TEST_STDERR       written to stderr (plus a newline)
#   TEST_EXIT_CODE    the exit code (default 0)
#   TEST_EXIT_CODE_FILE  or: the exit code is read from this file
#   TEST_INFO_FILE    $KUBERNETES_EXEC_INFO is written to this file
#   TEST_RUN_LOG      one line is appended per run (to count runs)
#   TEST_ARGS_FILE    the arguments, one per line
#   TEST_STDIN_FILE   "tty" or "notty": whether stdin is a terminal
#   TEST_ENV_FILE     the values of TEST_ENV_NAMES (space-separated), one per line
if [ -n "$TEST_RUN_LOG" ]; then echo "run $$" >> "$TEST_RUN_LOG"; fi
if [ -n "$TEST_INFO_FILE" ]; then printf '%s' "$KUBERNETES_EXEC_INFO" > "$TEST_INFO_FILE"; fi
if [ -n "$TEST_ARGS_FILE" ]; then
  : > "$TEST_ARGS_FILE"
  for a in "$@"; do printf '%s\n' "$a" >> "$TEST_ARGS_FILE"; done
fi
if [ -n "$TEST_STDIN_FILE" ]; then
  if [ -t 0 ]; then echo tty > "$TEST_STDIN_FILE"; else echo notty > "$TEST_STDIN_FILE"; fi
fi
if [ -n "$TEST_ENV_FILE" ]; then
  : > "$TEST_ENV_FILE"
  for n in $TEST_ENV_NAMES; do eval "printf '%s\n' \"\${$n-<unset>}\"" >> "$TEST_ENV_FILE"; done
fi
if [ -n "$TEST_STDERR" ]; then printf '%s\n' "$TEST_STDERR" >&2; fi
if [ -n "$TEST_OUTPUT_FILE" ]; then cat "$TEST_OUTPUT_FILE"; else printf '%s' "$TEST_OUTPUT"; fi
if [ -n "$TEST_EXIT_CODE_FILE" ]; then TEST_EXIT_CODE=$(cat "$TEST_EXIT_CODE_FILE"); fi
exit "${TEST_EXIT_CODE:-0}"
