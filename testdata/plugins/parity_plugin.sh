#!/bin/sh
# The exec credential plugin of tests/kubectl_parity_test.ts: the same
# plugin, kubeconfig and server for kubectl and kubeauth. It records what it
# was given in $PARITY_DIR and answers what the kubeconfig's env says:
#   $PARITY_DIR/runs   one line per run          $PARITY_DIR/info   KUBERNETES_EXEC_INFO
#   $PARITY_DIR/args   the arguments, one a line $PARITY_DIR/stdin  tty or notty
#   $PARITY_DIR/env    the values of $PARITY_ENV_NAMES (space-separated), one a line
#   PARITY_OUTPUT_<n>  stdout of run n (1, 2, …), else PARITY_OUTPUT
#   PARITY_STDERR      written to stderr (plus a newline)
#   PARITY_EXIT        the exit code (default 0)
#   PARITY_HANG=1      sleep (in the plugin's own process group) instead of answering
echo "run $$" >> "$PARITY_DIR/runs"
n=$(wc -l < "$PARITY_DIR/runs" | tr -d ' ')
printf '%s' "$KUBERNETES_EXEC_INFO" > "$PARITY_DIR/info"
: > "$PARITY_DIR/args"
for a in "$@"; do printf '%s\n' "$a" >> "$PARITY_DIR/args"; done
if [ -t 0 ]; then echo tty > "$PARITY_DIR/stdin"; else echo notty > "$PARITY_DIR/stdin"; fi
: > "$PARITY_DIR/env"
for name in $PARITY_ENV_NAMES; do
  eval "printf '%s\n' \"\${$name-<unset>}\"" >> "$PARITY_DIR/env"
done
if [ -n "$PARITY_STDERR" ]; then printf '%s\n' "$PARITY_STDERR" >&2; fi
if [ "$PARITY_HANG" = "1" ]; then exec sleep 1000; fi
eval "out=\${PARITY_OUTPUT_$n-\$PARITY_OUTPUT}"
printf '%s' "$out"
exit "${PARITY_EXIT:-0}"
