#!/bin/sh
# Exec credential plugins that misbehave, for tests. $1 selects how:
#   hang          starts a child (pid written to $TEST_PID_FILE), then waits forever
#   signal        kills itself with SIGTERM
#   close-stdout  prints $TEST_OUTPUT, closes stdout, keeps running
#   partial       prints half an ExecCredential, exits 0
#   garbage-after prints a valid ExecCredential then garbage, exits 0
#   empty         prints nothing, exits 0
#   grandchild    prints $TEST_OUTPUT, leaves a child holding stdout open
#                 (pid in $TEST_PID_FILE), exits 0
#   stderr-flood  writes 10 000 bytes then END-OF-STDERR to stderr, exits 1
#   big           writes 100 MB to stdout
V='client.authentication.k8s.io/v1beta1'
case "$1" in
  hang)
    sleep 1000 &
    echo "$!" > "$TEST_PID_FILE"
    wait
    ;;
  signal)
    kill -TERM $$
    sleep 1000
    ;;
  close-stdout)
    printf '%s' "$TEST_OUTPUT"
    exec 1>&-
    exec sleep 1000
    ;;
  partial)
    printf '{"kind":"ExecCredential","apiVersion":"%s","status":{"token":"SECRET-PARTIAL-TOKEN' "$V"
    ;;
  garbage-after)
    printf '{"kind":"ExecCredential","apiVersion":"%s","status":{"token":"SECRET-GARBAGE-TOKEN"}} SECRET-TRAILER' "$V"
    ;;
  empty)
    ;;
  grandchild)
    printf '%s' "$TEST_OUTPUT"
    sleep 1000 &
    echo "$!" > "$TEST_PID_FILE"
    exit 0
    ;;
  stderr-flood)
    i=0
    while [ $i -lt 100 ]; do
      printf '%0100d' 0 >&2
      i=$((i + 1))
    done
    printf 'END-OF-STDERR\n' >&2
    exit 1
    ;;
  big)
    head -c 104857600 /dev/zero
    ;;
  *)
    echo "unknown mode $1" >&2
    exit 2
    ;;
esac
