#!/bin/sh
# An exec plugin for the credential cache tests. Appends its pid to
# $CACHE_TEST_STATE/pids and a line to $CACHE_TEST_STATE/runs, writes
# KUBERNETES_EXEC_INFO to $CACHE_TEST_STATE/exec-info, then answers
# only once $CACHE_TEST_STATE/hold is gone (at most 60 s): a test holds it
# to keep a run (and so the cache lock) in progress.
state="$CACHE_TEST_STATE"
echo $$ >> "$state/pids"
echo run >> "$state/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$state/exec-info"
i=0
while [ -e "$state/hold" ] && [ $i -lt 600 ]; do
  sleep 0.1
  i=$((i + 1))
done
exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"slow-token-%s","expirationTimestamp":"%s"}}\n' "$$" "$exp"
