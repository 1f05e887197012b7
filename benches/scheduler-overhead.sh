#!/usr/bin/env bash
# The scheduler's cost in the shipped `pinion serve`: the CPU time the
# process uses while idle for $SECS (60) seconds, with no schedules and with
# N (1,000) scheduled sources none of which is due (every 1d), on the
# embedded SQLite store. Every replica's scheduler looks for due schedules
# about once a second (one indexed query), so the difference is what 1,000
# schedules cost when nothing runs.
# Usage: benches/scheduler-overhead.sh PATH/TO/pinion [N]   (needs curl, python3)
set -euo pipefail
B=$1; N=${2:-1000}; SECS=${SECS:-60}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, clock ticks
run() {
  local count=$1
  local D; D=$(mktemp -d)
  export PINION_DATA_DIR=$D
  unset PINION_DATABASE_URL PINION_MASTER_KEY PINION_MASTER_KEY_FILE
  local token
  token=$($B users create --username bench --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_token"])')
  local port=$((20000 + RANDOM % 10000))
  PINION_LOG=warn $B serve --listen 127.0.0.1:$port > "$D/serve.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  local api="http://127.0.0.1:$port/api/v1"
  local cred
  cred=$(curl -sf -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"name":"Bench","client_id":"1484362","client_secret":"bench-secret"}' "$api/credentials" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for i in $(seq 1 "$count"); do
    local src
    src=$(curl -sf -H "Authorization: Bearer $token" -H 'content-type: application/json' \
      -d "{\"name\":\"Source $i\",\"credential_id\":\"$cred\",\"streams\":[\"boards\"],\"output\":{\"kind\":\"jsonl\",\"path\":\"s$i\"}}" \
      "$api/sources" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    curl -sf -o /dev/null -X PUT -H "Authorization: Bearer $token" -H 'content-type: application/json' \
      -d '{"every":"1d"}' "$api/sources/$src/schedule"
  done
  sleep 2
  local before; before=$(cpu $pid)
  sleep "$SECS"
  local after; after=$(cpu $pid)
  local ticks; ticks=$(getconf CLK_TCK)
  python3 -c "print(f'schedules={$count} cpu_seconds={($after-$before)/$ticks:.2f} over {$SECS} s ({($after-$before)/$ticks/$SECS*100:.2f}% of one core)')"
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$D"
}
run 0
run "$N"
