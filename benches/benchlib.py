"""What the Python benches share: HTTP calls without redirects, a process's
resident memory and CPU time, and the shipped `pinion simulator` with a
credential authorized through a running `pinion serve`.

Standard library only.
"""

import json
import os
import subprocess
import threading
import urllib.error
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(method, url, token=None, body=None):
    """(status, headers, body bytes) of one request; redirects are not followed."""
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
    """The process's resident memory in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User plus system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_simulator(pinion, port, data_size):
    """`pinion simulator` without rate limits, approving consent by itself;
    returns (process, base URL, the demo app's client secret)."""
    sim = subprocess.Popen(
        [pinion, "simulator", "--listen", f"127.0.0.1:{port}",
         "--no-rate-limits", "--auto-approve", "--data-size", data_size],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    secret = None
    for line in sim.stdout:
        if "client secret:" in line:
            secret = line.split(":", 1)[1].strip()
            break
    threading.Thread(target=lambda: [None for _ in sim.stdout], daemon=True).start()
    return sim, f"http://127.0.0.1:{port}", secret


def serve_env(work, data_dir, base_sim, public_port):
    """The environment of a `pinion serve` against the simulator."""
    env = dict(os.environ)
    for key in ["PINION_DATABASE_URL", "PINION_MASTER_KEY", "PINION_MASTER_KEY_FILE"]:
        env.pop(key, None)
    env.update({
        "PINION_DATA_DIR": os.path.join(work, data_dir),
        "PINION_LOG": "warn",
        "PINTEREST_OAUTH_URL": f"{base_sim}/oauth/",
        "PINTEREST_API_URL": f"{base_sim}/v5",
        "PINION_PUBLIC_URL": f"http://127.0.0.1:{public_port}",
    })
    return env


def wait_healthy(base):
    import time
    for _ in range(300):
        try:
            if call("GET", f"{base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{base} never answered /healthz")


def authorized_credential(api, token, secret, scopes="boards:read,pins:read,user_accounts:read"):
    """Creates a credential for the simulator's demo app on the `unlimited`
    tier and authorizes it through the simulator's consent; returns its id.
    The server behind `api` must be the one at the demo app's redirect URI
    (http://127.0.0.1:8080)."""
    status, _, body = call("POST", f"{api}/credentials", token, {
        "name": "Bench", "client_id": "1484363", "client_secret": secret,
        "scopes": scopes})
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
    return credential
