#!/usr/bin/env bash
# Starts the README's run command (`npm run dev`) as a newcomer does, on its default ports, and
# checks that the API (/health/live), the SPA page and the development issuer (discovery) answer;
# then stops it with SIGINT, as Ctrl-C would, and checks that it exits. Fails with its output.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ ! -e spa/dist && ! -e dist ]] || echo "note: build output present before the smoke run (not a clean clone?)"
log=$(mktemp)
env -u NODE_ENV setsid npm run dev >"$log" 2>&1 &
pid=$!
stop() { kill -INT -- "-$pid" 2>/dev/null || true; }
trap 'stop; rm -f "$log"' EXIT
check() { # name url needle
  for _ in $(seq 1 120); do
    if ! kill -0 "$pid" 2>/dev/null; then echo "npm run dev exited early:"; cat "$log"; exit 1; fi
    if body=$(curl -sf --max-time 2 "$2") && [[ $body == *"$3"* ]]; then echo "  ok  $1: $2"; return 0; fi
    sleep 0.5
  done
  echo "npm run dev: $1 did not answer at $2 within 60 s:"; cat "$log"; exit 1
}
echo "npm run dev (smoke run from the clean clone)"
check 'API /health/live' http://127.0.0.1:3000/health/live '"status":"ok"'
check 'SPA page' http://127.0.0.1:5173/ 'Demo SPA'
check 'development issuer' http://127.0.0.1:4000/.well-known/openid-configuration '"issuer":"http://127.0.0.1:4000"'
stop
for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
if kill -0 "$pid" 2>/dev/null; then echo "npm run dev did not stop on SIGINT:"; cat "$log"; kill -KILL -- "-$pid"; exit 1; fi
echo "  ok  stopped on SIGINT"
