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
import urllib.error
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(method, url, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(request, timeout=60) as response:
            text = response.read()
            return response.status, dict(response.headers), text
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


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
    sim = subprocess.Popen(
        [args.pinion, "simulator", "--listen", f"127.0.0.1:{args.sim_port}",
         "--no-rate-limits", "--auto-approve", "--data-size", args.data_size],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    secret = None
    for line in sim.stdout:
        if "client secret:" in line:
            secret = line.split(":", 1)[1].strip()
            break
    threading.Thread(target=lambda: [None for _ in sim.stdout], daemon=True).start()
    base_sim = f"http://127.0.0.1:{args.sim_port}"
    env = dict(os.environ)
    for key in ["PINION_DATABASE_URL", "PINION_MASTER_KEY", "PINION_MASTER_KEY_FILE"]:
        env.pop(key, None)
    env.update({
        "PINION_DATA_DIR": os.path.join(work, "data"),
        "PINION_LOG": "warn",
        "PINTEREST_OAUTH_URL": f"{base_sim}/oauth/",
        "PINTEREST_API_URL": f"{base_sim}/v5",
        "PINION_PUBLIC_URL": f"http://127.0.0.1:{args.port}",
    })
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
        for _ in range(200):
            try:
                if call("GET", f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        status, _, body = call("POST", f"{api}/credentials", token, {
            "name": "Bench", "client_id": "1484363", "client_secret": secret,
            "scopes": "boards:read,pins:read,user_accounts:read"})
        assert status == 201, body
        credential = json.loads(body)["id"]
        status, _, body = call("PATCH", f"{api}/credentials/{credential}", token,
                               {"rate_tier": "unlimited"})
        assert status == 200, body
        status, _, body = call("POST", f"{api}/credentials/{credential}/authorize", token, {})
        assert status in (200, 201), body
        consent = json.loads(body)["authorization_url"]
        status, headers, body = call("GET", consent + "&username=demo")
        callback = headers.get("Location") or headers.get("location")
        assert callback, (status, body)
        status, _, body = call("GET", callback)
        assert status in (200, 303), (status, body)

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
