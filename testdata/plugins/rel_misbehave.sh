#!/bin/sh
# More misbehaving exec credential plugins, for tests/misbehaving_plugins_test.ts
# (the basic ones are in misbehave.sh). $1 selects how; every process it starts
# appends its pid to $TEST_PID_FILE; $TEST_OUTPUT is a valid ExecCredential.
#   stubborn       ignores SIGTERM/SIGINT/SIGHUP, starts 5 children that
#                  ignore them too, then waits forever
#   sigkill        kills itself with SIGKILL
#   segv           kills itself with SIGSEGV
#   close-early    prints $TEST_OUTPUT, closes stdout, exits 0 after 300 ms
#   hold-stderr    prints $TEST_OUTPUT, leaves a child holding stderr (not
#                  stdout) open, exits 0
#   read-stdin     reads stdin to its end, then prints $TEST_OUTPUT
#   trickle        prints $TEST_OUTPUT one byte per write
#   double-flood   floods stderr (64 MiB, in a child) and stdout (1 GiB)
#   exec-missing   execs a program that does not exist (exit 127)
pid() { echo "$1" >> "$TEST_PID_FILE"; }
pid $$
case "$1" in
  stubborn)
    trap '' TERM INT HUP
    i=0
    while [ $i -lt 5 ]; do
      sh -c "trap '' TERM INT HUP; while :; do sleep 1; done" &
      pid $!
      i=$((i + 1))
    done
    while :; do sleep 1; done
    ;;
  sigkill)
    kill -KILL $$
    ;;
  segv)
    kill -SEGV $$
    sleep 5
    ;;
  close-early)
    printf '%s' "$TEST_OUTPUT"
    exec 1>&-
    sleep 0.3
    exit 0
    ;;
  hold-stderr)
    printf '%s' "$TEST_OUTPUT"
    sleep 1000 >/dev/null &
    pid $!
    exit 0
    ;;
  read-stdin)
    cat > /dev/null
    printf '%s' "$TEST_OUTPUT"
    ;;
  trickle)
    printf '%s' "$TEST_OUTPUT" | dd bs=1 2>/dev/null
    ;;
  double-flood)
    head -c 67108864 /dev/zero >&2 &
    pid $!
    head -c 1073741824 /dev/zero
    ;;
  exec-missing)
    exec /nonexistent/kubeauth-plugin-target
    ;;
  *)
    echo "unknown mode $1" >&2
    exit 2
    ;;
esac
