#!/usr/bin/env python3
"""Two shipped `pinion serve` replicas splitting many due schedules (issue 14).

Starts `pinion simulator` (rate limits off, auto-approve) and two `pinion
serve` replicas on one PostgreSQL database, each with its own data
directory. Through the first it authorizes one credential of the simulator's
demo app, creates N sources (the `user_account` stream into JSON Lines: one
Pinterest request a run, so the schedulers' share of the work shows) and
schedules every one on the cron expression `* * * * *`, so all N slots fall
due at the same second, the next whole minute. It waits until every slot of
that minute has a finished run, then reads the runs from the database.

Prints: runs started for the slot, how many sources got more than one (must
be 0), how many each replica took, the time from the slot to the first
run's start and to the last run's finish, and each replica's CPU seconds
over that time.

Usage: benches/schedule-split.py --pinion target/release/pinion
       --database postgres://postgres@127.0.0.1:5432/DB [--sources 1000]
       [--replicas 2]
Needs: python3 (standard library only), psql, a fresh PostgreSQL database,
ports 8080 and 8081 free (the demo app's redirect URI is
http://127.0.0.1:8080/oauth/pinterest/callback).
"""

import argparse
import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402
    authorized_credential, call, cpu_seconds, serve_env, start_simulator, wait_healthy)


def psql(database, sql):
    out = subprocess.run(["psql", database, "-At", "-F", "\t", "-c", sql],
                         capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pinion", required=True)
    parser.add_argument("--database", required=True, help="a fresh PostgreSQL database")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--replicas", type=int, choices=[1, 2], default=2,
                        help="1 measures one replica alone, for comparison")
    parser.add_argument("--sim-port", type=int, default=19090)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="pinion-split-")
    sim, base_sim, secret = start_simulator(args.pinion, args.sim_port, "small")
    key = base64.b64encode(os.urandom(32)).decode()
    replicas = []
    try:
        for name, port in [("a", 8080), ("b", 8081)][:args.replicas]:
            env = serve_env(work, name, base_sim, 8080)
            env["PINION_DATABASE_URL"] = args.database
            env["PINION_MASTER_KEY"] = key
            if name == "a":
                created = subprocess.run(
                    [args.pinion, "users", "create", "--username", "bench", "--json"],
                    env=env, capture_output=True, text=True, check=True)
                token = json.loads(created.stdout)["api_token"]
            log = open(os.path.join(work, f"serve-{name}.log"), "w")
            process = subprocess.Popen(
                [args.pinion, "serve", "--listen", f"127.0.0.1:{port}"],
                env=env, stdout=log, stderr=subprocess.STDOUT)
            replicas.append((name, process, f"http://127.0.0.1:{port}"))
        for _, _, base in replicas:
            wait_healthy(base)
        api = f"{replicas[0][2]}/api/v1"
        credential = authorized_credential(api, token, secret)

        def make_source(i):
            status, _, body = call("POST", f"{api}/sources", token, {
                "name": f"Source {i}", "credential_id": credential,
                "streams": ["user_account"],
                "output": {"kind": "jsonl", "path": f"s{i}"}})
            assert status == 201, body
            source = json.loads(body)["id"]
            status, _, body = call("PUT", f"{api}/sources/{source}/schedule", token,
                                   {"cron": "* * * * *", "time_zone": "UTC"})
            assert status == 200, body
            return source

        with ThreadPoolExecutor(8) as pool:
            sources = list(pool.map(make_source, range(args.sources)))
        now = datetime.datetime.now(datetime.timezone.utc)
        slot = (now + datetime.timedelta(minutes=1)).replace(second=0, microsecond=0)
        if (slot - now).total_seconds() < 5:
            # Too close: every schedule may not be in before it; take the next.
            slot += datetime.timedelta(minutes=1)
        print(f"{len(sources)} sources scheduled; waiting for the slot at {slot:%H:%M:%S} UTC",
              file=sys.stderr)
        while datetime.datetime.now(datetime.timezone.utc) < slot - datetime.timedelta(seconds=1):
            time.sleep(0.2)
        cpu_before = {name: cpu_seconds(p.pid) for name, p, _ in replicas}
        since = slot.isoformat()
        while True:
            rows = psql(args.database,
                        f"SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')), "
                        f"count(*) FROM runs WHERE created_at >= '{since}'")
            finished, started = (int(x) for x in rows[0])
            if finished >= args.sources and finished == started:
                break
            if datetime.datetime.now(datetime.timezone.utc) > slot + datetime.timedelta(seconds=55):
                break
            time.sleep(0.2)
        cpu = {name: cpu_seconds(p.pid) - cpu_before[name] for name, p, _ in replicas}

        per_instance = psql(args.database,
                            f"SELECT owner_instance, count(*) FROM runs "
                            f"WHERE created_at >= '{since}' GROUP BY 1 ORDER BY 1")
        doubled = psql(args.database,
                       f"SELECT count(*) FROM (SELECT source_id FROM runs "
                       f"WHERE created_at >= '{since}' GROUP BY source_id "
                       f"HAVING count(*) > 1) d")[0][0]
        timing = psql(args.database,
                      f"SELECT extract(epoch FROM min(created_at) - '{since}'::timestamptz), "
                      f"extract(epoch FROM max(finished_at) - '{since}'::timestamptz), "
                      f"count(*) FILTER (WHERE status = 'succeeded'), count(*) "
                      f"FROM runs WHERE created_at >= '{since}'")[0]
        first, last, succeeded, total = float(timing[0]), float(timing[1]), timing[2], timing[3]
        print(f"sources={args.sources} runs={total} succeeded={succeeded} "
              f"sources_with_two_runs={doubled}")
        print("runs_per_replica=" + ",".join(f"{count}" for _, count in per_instance))
        print(f"first_start_s={first:.2f} last_finish_s={last:.2f} "
              f"runs_per_s={int(total) / max(last, 0.001):.0f}")
        print("cpu_s=" + ",".join(f"{name}:{seconds:.2f}" for name, seconds in cpu.items()))
    finally:
        for _, process, _ in replicas:
            process.terminate()
            process.wait()
        sim.terminate()
        sim.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
