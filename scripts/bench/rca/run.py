#!/usr/bin/env python3
"""Runs the root-cause scenarios (scenarios.toml) on the example system
with real processes and measures steward's ranking: for each scenario, a
fresh `steward up` (gateway -> agent-worker -> the agents database, and
an unrelated scheduler, all demo agents), load on the gateway and the
scheduler, the scenario's steps, then the first incident's root-cause
candidates against the injected cause. Prints precision@1 and
precision@3 over the suite ("no change found" is right when the scenario
injected none) and writes every scenario's record as JSON.

Standard library only. Usage (scripts/bench/rca.sh runs it):
  run.py --steward BIN --agent BIN --migrations DIR --out FILE
         [--only NAME[,NAME]] [--output table|json]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SETTLE = 33  # seconds after start: the first deployment leaves the 30 s window
DETECT = 75  # seconds the incident has to open after the last step


def iso_seconds(text):
    """Seconds since the epoch of an RFC 3339 time (any fraction)."""
    from datetime import datetime
    text = re.sub(r"(\.\d{1,6})\d*", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text).timestamp()


def log(message):
    print(f"rca: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BASE_ENV = {
    "DEMO_AGENT_LLM_LATENCY_MS": "5ms",
    "DEMO_AGENT_TOOL_LATENCY_MS": "1ms",
}

RULES = """groups:
  - name: services
    interval: 1s
    rules:
      - alert: ErrorRatioHigh
        expr: sum by (service) (rate(demo_agent_tasks_total{outcome="error"}[5s])) / sum by (service) (rate(demo_agent_tasks_total[5s])) > 0.3
        labels: {severity: critical}
      - alert: LatencyHigh
        expr: histogram_quantile(0.9, sum by (service, le) (rate(demo_agent_http_request_duration_seconds_bucket{route="/v1/tasks"}[5s]))) > 0.3
        labels: {severity: critical}
      - alert: CrashLooping
        expr: sum by (service) (increase(steward_replica_restarts_total[20s])) >= 2
        labels: {severity: critical}
"""


class System:
    """One scenario's steward and its configuration."""

    def __init__(self, args, workdir):
        self.args = args
        self.dir = workdir
        self.api = free_port()
        self.ports = {"gateway": free_port(), "agent-worker": free_port(), "scheduler": free_port()}
        self.db = os.path.join(workdir, "agents.db")
        self.migrations = os.path.join(workdir, "migrations")
        shutil.copytree(args.migrations, self.migrations)
        self.env = {
            "gateway": {**BASE_ENV, "DEMO_AGENT_UPSTREAM": f"http://127.0.0.1:{self.ports['agent-worker']}"},
            "agent-worker": {**BASE_ENV, "DEMO_AGENT_DATABASE": self.db},
            "scheduler": dict(BASE_ENV),
        }
        with open(os.path.join(workdir, "rules.yml"), "w") as f:
            f.write(RULES)
        self.config = os.path.join(workdir, "steward.toml")
        self.write_config()
        self.process = None

    def write_config(self):
        def service(name, depends):
            env = ", ".join(f'{k} = "{v}"' for k, v in sorted(self.env[name].items()))
            dep = f'depends_on = ["{depends}"]\n' if depends else ""
            return f"""
[[services]]
name = "{name}"
replicas = 1
port = {self.ports[name]}
metrics_path = "/metrics"
{dep}env = {{ {env} }}
process.command = ["{self.args.agent}", "--port", "{{port}}", "--agent-version", "{{version}}"]
health = {{ http = "/healthz", interval = "300ms", timeout = "250ms", unhealthy_threshold = 2 }}
rollout = {{ verify_window = "500ms", drain_timeout = "3s", stop_grace = "3s" }}
"""

        text = f"""
[server]
listen = "127.0.0.1:{self.api}"
data_dir = "data"

[deploy]
initial_version = "1.0.0"

[metrics]
scrape_interval = "500ms"
scrape_timeout = "400ms"

[rules]
files = ["rules.yml"]
evaluation_interval = "1s"

[alerts]
incident_severity = "error"
config_yaml = '''
route:
  receiver: nobody
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: nobody
'''

[incidents]
rca_window = "30s"
rca_half_life = "10s"

[[databases]]
name = "agents"
url = "sqlite://{self.db}?mode=rwc"
migrations = "{self.migrations}"
{service("agent-worker", None)}{service("gateway", "agent-worker")}{service("scheduler", None)}"""
        with open(self.config, "w") as f:
            f.write(text)

    def start(self):
        self.process = subprocess.Popen(
            [self.args.steward, "up", self.config],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "steward.log"), "w"),
            env={**os.environ, "STEWARD_LOG": "warn"},
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            if all(self.healthy(s) for s in self.ports):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"steward up exited: see {self.dir}/steward.log")
            time.sleep(0.3)
        raise RuntimeError("the services never became healthy")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def healthy(self, service):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[service]}/healthz", timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def token(self):
        with open(os.path.join(self.dir, "data", "admin.token")) as f:
            return f.read().strip()

    def api_call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as r:
            return json.loads(r.read() or b"null")

    def cli(self, *args):
        out = subprocess.run(
            [self.args.steward, "--config", self.config, *args],
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise RuntimeError(f"steward {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    # steps

    def deploy(self, service, version, env):
        self.env[service] = {**self.env[service], **env}
        self.write_config()
        self.cli("deploy", version, "--services", service, "--wait", "--reason", "rca bench")
        deployments = self.api_call("GET", "/api/v1/deployments?limit=5")
        for d in deployments:
            if d["version"] == version and service in d["services"]:
                return d["id"]
        raise RuntimeError(f"no deployment of {service} {version}")

    def migrate(self, file):
        shutil.copy(os.path.join(HERE, file), self.migrations)
        version, description = file.split("__", 1)
        name = f"{version.lstrip('V')} {description.rsplit('.', 1)[0]}"  # "4 audit_trigger"
        report = self.api_call("POST", "/api/v1/databases/agents/apply", {})
        # the run's events are journaled as it reports them
        for _ in range(50):
            page = self.api_call("GET", "/api/v1/events?kind=migration&limit=20")
            for event in page["events"]:
                if event["kind"] == "migration.applied" and f"applied {name} to" in event["summary"]:
                    return f"event-{event['id']}"
            time.sleep(0.2)
        raise RuntimeError(f"no migration.applied event for {file}: {json.dumps(report)[:300]}; "
                           f"journal: {[e['summary'] for e in page['events']]}")

    def kill(self, service, times):
        for _ in range(times):
            status = json.loads(self.cli("status", "-o", "json"))
            for s in status["services"]:
                if s.get("name") != service:
                    continue
                for replica in s.get("instances", []):
                    port = str(replica.get("addr", "")).rsplit(":", 1)[-1]
                    if port:
                        subprocess.run(["pkill", "-KILL", "-f", f"demo-agent --port {port} "], check=False)
            time.sleep(1.5)


class Load:
    """Tasks to the gateway and the scheduler, back to back, until stopped."""

    def __init__(self, ports):
        self.stop = threading.Event()
        body = json.dumps({"prompt": "plan a trip", "model": "demo-pro"}).encode()

        def run(port):
            while not self.stop.is_set():
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/tasks", data=body, method="POST",
                    headers={"Content-Type": "application/json"},
                )
                try:
                    urllib.request.urlopen(request, timeout=10).read()
                except (OSError, urllib.error.URLError):
                    pass
                time.sleep(0.05)

        self.threads = [threading.Thread(target=run, args=(p,), daemon=True)
                        for p in (ports["gateway"], ports["scheduler"])]
        for t in self.threads:
            t.start()

    def close(self):
        self.stop.set()


def run_scenario(args, scenario):
    workdir = tempfile.mkdtemp(prefix=f"steward-rca-{scenario['name']}.")
    system = System(args, workdir)
    record = {"name": scenario["name"], "what": scenario["what"],
              "expect": scenario.get("expect", "cause"), "cause": None,
              "candidates": [], "incident": None, "error": None}
    load = None
    try:
        system.start()
        load = Load(system.ports)
        time.sleep(SETTLE)
        started = time.time()
        injected = started
        for step in scenario["steps"]:
            if "deploy" in step:
                change = system.deploy(step["deploy"], step["version"], step.get("env", {}))
            elif "migrate" in step:
                change = system.migrate(step["migrate"])
            elif "kill" in step:
                system.kill(step["kill"], step.get("times", 5))
                change = None
            elif "wait" in step:
                time.sleep(step["wait"])
                change = None
            else:
                raise RuntimeError(f"unknown step {step}")
            if step.get("cause"):
                record["cause"] = change
        deadline = time.time() + DETECT
        incident = None
        while time.time() < deadline and incident is None:
            incidents = system.api_call("GET", "/api/v1/incidents?limit=20")
            # the oldest opened since the steps began (one opened before
            # is noise of the start, recorded as such)
            fresh = [i for i in incidents if iso_seconds(i["opened_at"]) >= injected - 1]
            if len(fresh) < len(incidents):
                record["noise"] = [i["title"] for i in incidents if i not in fresh]
            incident = fresh[-1] if fresh else None
            if incident is None:
                time.sleep(0.5)
        if incident is None:
            record["error"] = "no incident opened"
        else:
            # the first incident: later groups join it or open others
            record["incident"] = {"id": incident["id"], "title": incident["title"],
                                  "services": incident["services"],
                                  "opened_after_s": round(time.time() - started, 1)}
            time.sleep(2)  # later alert groups of the same trouble join it
            candidates = system.api_call("GET", f"/api/v1/incidents/{incident['id']}/candidates")
            record["candidates"] = [{"id": c["id"], "kind": c["kind"], "service": c["service"],
                                     "score": round(c["score"], 4), "summary": c["summary"]}
                                    for c in candidates]
    except Exception as err:  # a scenario that cannot run is recorded, not fatal
        record["error"] = str(err)
    finally:
        if load:
            load.close()
        system.stop()
        if os.environ.get("KEEP_TMP") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
    ids = [c["id"] for c in record["candidates"]]
    if record["error"]:
        record["hit1"] = record["hit3"] = False
    elif record["expect"] == "none":
        record["hit1"] = record["hit3"] = not ids
    else:
        record["hit1"] = bool(ids) and ids[0] == record["cause"]
        record["hit3"] = record["cause"] in ids[:3]
    return record


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steward", required=True)
    parser.add_argument("--agent", required=True)
    parser.add_argument("--migrations", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--output", default="table", choices=["table", "json"])
    args = parser.parse_args()
    with open(os.path.join(HERE, "scenarios.toml"), "rb") as f:
        scenarios = tomllib.load(f)["scenario"]
    if args.only:
        wanted = set(args.only.split(","))
        scenarios = [s for s in scenarios if s["name"] in wanted]
    records = []
    for i, scenario in enumerate(scenarios, 1):
        log(f"[{i}/{len(scenarios)}] {scenario['name']}: {scenario['what']}")
        record = run_scenario(args, scenario)
        top = record["candidates"][0]["id"] if record["candidates"] else "no change found"
        log(f"    cause {record['cause'] or 'none'}; steward: {top}; "
            f"{'hit' if record['hit1'] else 'MISS'}{' (' + record['error'] + ')' if record['error'] else ''}")
        records.append(record)
    n = len(records)
    summary = {
        "scenarios": n,
        "precision_at_1": round(sum(r["hit1"] for r in records) / n, 3) if n else None,
        "precision_at_3": round(sum(r["hit3"] for r in records) / n, 3) if n else None,
        "errors": sum(1 for r in records if r["error"]),
        "target_precision_at_1": 0.9,
    }
    document = {"summary": summary, "scenarios": records}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(document, f, indent=2)
    if args.output == "json":
        print(json.dumps(document, indent=2))
        return
    print(f"{'SCENARIO':40} {'CAUSE':18} {'STEWARD #1':18} @1  @3")
    for r in records:
        top = r["candidates"][0]["id"] if r["candidates"] else "none"
        cause = r["cause"] or "none"
        print(f"{r['name']:40} {cause:18} {top:18} {'✓' if r['hit1'] else '✗'}   {'✓' if r['hit3'] else '✗'}"
              + (f"  ({r['error']})" if r["error"] else ""))
    print(f"\nprecision@1 {summary['precision_at_1']:.2f}  precision@3 {summary['precision_at_3']:.2f}"
          f"  over {n} scenarios (target precision@1 >= 0.90)")


if __name__ == "__main__":
    main()
