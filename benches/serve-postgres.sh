#!/usr/bin/env bash
# The shipped `pinion serve` on PostgreSQL: closed-loop requests/s of the
# credentials page (session cookie) and `GET /api/v1/credentials` (bearer),
# 50 credentials, wrk with 2 threads and 32 connections for $SECS (5) seconds.
# Usage: benches/serve-postgres.sh PATH/TO/pinion LABEL  (needs wrk, psql and
# a PostgreSQL at 127.0.0.1:5432 that trusts user postgres; a fresh database
# is created and dropped).
set -euo pipefail
B=$1; L=$2
DB=wrk_${L}_$$
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DB"
export PINION_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB
export PINION_MASTER_KEY=$(head -c32 /dev/urandom | base64)
D=$(mktemp -d); export PINION_DATA_DIR=$D
TOKEN=$(echo "bench-password-long-enough" | $B users create --username bench --password-stdin --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_token"])')
PORT=$((20000 + RANDOM % 10000))
RUST_LOG=warn PINION_LOG=warn $B serve --listen 127.0.0.1:$PORT --public-url http://127.0.0.1:$PORT > $D/serve.log 2>&1 &
SP=$!
for i in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null 2>&1 && break; sleep 0.3; done
for i in $(seq 1 50); do
  curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
   -d "{\"name\":\"Credential $i\",\"client_id\":\"$((1000000+i))\",\"client_secret\":\"bench-secret-$i\"}" http://127.0.0.1:$PORT/api/v1/credentials >/dev/null
done
J=$D/jar
CSRF=$(curl -s -c $J -b $J http://127.0.0.1:$PORT/sign-in | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')
curl -s -o /dev/null -c $J -b $J -X POST --data-urlencode "csrf=$CSRF" --data-urlencode username=bench --data-urlencode password=bench-password-long-enough http://127.0.0.1:$PORT/sign-in
COOKIE=$(awk '$6=="pinion_session"{print $6"="$7}' $J)
page=$(wrk -t2 -c32 -d${SECS:-5}s -H "Cookie: $COOKIE" http://127.0.0.1:$PORT/credentials | awk '/Requests\/sec/{print $2}')
api=$(wrk -t2 -c32 -d${SECS:-5}s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:$PORT/api/v1/credentials | awk '/Requests\/sec/{print $2}')
echo "$L page=$page api=$api load=$(cut -d' ' -f1 /proc/loadavg)"
kill $SP; wait $SP 2>/dev/null || true
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE $DB WITH (FORCE)"
