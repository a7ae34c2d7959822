#!/usr/bin/env python3
"""The webhook receiver of scripts/bench/alerts.sh.

  receiver.py --port P --log FILE

Takes Alertmanager's webhook notifications (version 4 payload) on
127.0.0.1:P, any path, answers 200 at once and appends one JSON line per
notification to FILE, flushed as it is written:

  {"t": arrival (Unix seconds, float), "path": ..., "user_agent": ...,
   "status": "firing"|"resolved", "receiver": ..., "group_labels": {...},
   "alerts": count, "firing": count}

The arrival is taken when the request's head has been read, before its
body: what the notifier's delay is measured against (load.py matches
each probe alert's group to its first line here). Only the summary is
kept, not the alerts, so the file stays small under load. GET /count
answers the number of notifications taken, to see that the receiver is
up. Standard library only.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as notifiers reuse connections

    def do_POST(self):  # noqa: N802 (http.server's name)
        t = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        try:
            payload = json.loads(body)
            alerts = payload.get("alerts") or []
            line = {
                "t": t,
                "path": self.path,
                "user_agent": self.headers.get("User-Agent", ""),
                "status": payload.get("status"),
                "receiver": payload.get("receiver"),
                "group_labels": payload.get("groupLabels") or {},
                "alerts": len(alerts),
                "firing": sum(1 for a in alerts if a.get("status") == "firing"),
            }
        except (ValueError, AttributeError) as e:
            line = {"t": t, "path": self.path, "error": f"unreadable payload: {e}"}
        self.server.record(line)

    def do_GET(self):  # noqa: N802
        body = str(self.server.count).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass  # one line per notification would drown the log


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, log):
        super().__init__(address, Handler)
        self.log = log
        self.lock = threading.Lock()
        self.count = 0

    def record(self, line):
        text = json.dumps(line, separators=(",", ":")) + "\n"
        with self.lock:
            self.log.write(text)
            self.log.flush()
            self.count += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    with open(args.log, "a", encoding="utf-8") as log:
        server = Server(("127.0.0.1", args.port), log)
        print(f"receiver on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
