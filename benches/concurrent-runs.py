#!/usr/bin/env python3
"""Many source runs at once in one shipped `pinion serve` (issue 14).

Starts `pinion simulator` (rate limits off, auto-approve) and `pinion serve`
on a fresh data directory (the embedded SQLite store, or PostgreSQL with
--database), authorizes one credential of the simulator's demo app through
the API, creates N sources (boards and board_pins into JSON Lines) and
starts all their runs at once. While they run it asks the API for the
source list every 50 ms and times each answer, and samples the server's
resident memory every 100 ms.

Prints: runs succeeded, records, wall time from the first start to the last
finish, aggregate records/s, memory per run ((peak - idle) / N) and the
API's p50, p99 and worst latency while the runs went.

Usage: benches/concurrent-runs.py --pinion target/release/pinion [--runs 100]
       [--data-size medium] [--database postgres://...] [--port 8080]
Needs: python3 (standard library only); port 8080 free (the demo app's
redirect URI is http://127.0.0.1:8080/oauth/pinterest/callback).
"""

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (  # noqa: E402
    authorized_credential, call, rss_kib, serve_env, start_simulator, wait_healthy)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pinion", required=True)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--data-size", default="medium")
    parser.add_argument("--database")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--sim-port", type=int, default=19090)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="pinion-runs-")
    sim, base_sim, secret = start_simulator(args.pinion, args.sim_port, args.data_size)
    env = serve_env(work, "data", base_sim, args.port)
    if args.database:
        env["PINION_DATABASE_URL"] = args.database
        env["PINION_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    created = subprocess.run([args.pinion, "users", "create", "--username", "bench", "--json"],
                             env=env, capture_output=True, text=True, check=True)
    token = json.loads(created.stdout)["api_token"]
    log = open(os.path.join(work, "serve.log"), "w")
    serve = subprocess.Popen([args.pinion, "serve", "--listen", f"127.0.0.1:{args.port}"],
                             env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{args.port}"
    api = f"{base}/api/v1"
    try:
        wait_healthy(base)
        credential = authorized_credential(api, token, secret)

        sources = []
        for i in range(args.runs):
            status, _, body = call("POST", f"{api}/sources", token, {
                "name": f"Source {i}", "credential_id": credential,
                "streams": ["boards", "board_pins"],
                "output": {"kind": "jsonl", "path": f"s{i}"}})
            assert status == 201, body
            sources.append(json.loads(body)["id"])

        time.sleep(1)
        idle = rss_kib(serve.pid)
        peak = [idle]
        latencies = []
        done = threading.Event()

        def sample_memory():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(serve.pid))
                time.sleep(0.1)

        def probe_api():
            while not done.is_set():
                started = time.perf_counter()
                status, _, _ = call("GET", f"{api}/sources", token)
                latencies.append((time.perf_counter() - started, status))
                time.sleep(0.05)

        threads = [threading.Thread(target=sample_memory), threading.Thread(target=probe_api)]
        for thread in threads:
            thread.start()
        started = time.time()
        runs = []
        for source in sources:
            status, _, body = call("POST", f"{api}/sources/{source}/runs", token)
            assert status == 202, body
            runs.append((source, json.loads(body)["id"]))
        finished = {}
        while len(finished) < len(runs):
            time.sleep(1)
            for source, run in runs:
                if run in finished:
                    continue
                status, _, body = call("GET", f"{api}/sources/{source}/runs/{run}", token)
                record = json.loads(body)
                if record["status"] in ("succeeded", "failed"):
                    finished[run] = record
        wall = time.time() - started
        done.set()
        for thread in threads:
            thread.join()

        succeeded = sum(1 for r in finished.values() if r["status"] == "succeeded")
        records = sum(s["records"] for r in finished.values() for s in r["streams"])
        times = sorted(t for t, _ in latencies)
        errors = sum(1 for _, s in latencies if s != 200)

        def pct(p):
            return times[min(len(times) - 1, int(p / 100 * len(times)))] * 1000

        print(f"runs={args.runs} succeeded={succeeded} records={records} wall_s={wall:.1f} "
              f"records_per_s={records / wall:.0f}")
        print(f"rss_idle_mib={idle / 1024:.1f} rss_peak_mib={peak[0] / 1024:.1f} "
              f"per_run_mib={(peak[0] - idle) / 1024 / args.runs:.2f}")
        print(f"api_requests={len(times)} non_200={errors} p50_ms={pct(50):.1f} "
              f"p99_ms={pct(99):.1f} max_ms={times[-1] * 1000:.1f}")
        failed = [r for r in finished.values() if r["status"] != "succeeded"]
        if failed:
            print("first failure:", failed[0].get("error"), file=sys.stderr)
    finally:
        serve.terminate()
        sim.terminate()
        serve.wait()
        sim.wait()
        # The outputs take about 17 MB a run.
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
