"""mockbase.py: what every vendor mock server in tests/mocks shares.

A mock is a small HTTP server on 127.0.0.1 (a random port) that speaks one
vendor's wire protocol as ../shared/research/connectors.md section 8 describes
it.  This module holds the parts that are the same for every vendor, so that
each vendor file only says what the vendor does:

  * start-up: `python3 tests/mocks/VENDOR.py [--config FILE.json]` binds a
    random port and prints `PORT <n>` as its first line of stdout;
  * the control endpoints under /_mock/ (no auth): GET /_mock/data (the data
    set the mock serves, raw), GET /_mock/stats (request counts), POST
    /_mock/config (merge JSON into the config, e.g. to set faults), POST
    /_mock/reset_stats;
  * fault injection on the k-th data request (see FAULT_KINDS);
  * `--tls`: https with tls/server.pem, a certificate for 127.0.0.1 signed by
    the test-only CA tls/ca.pem (keys made for these tests and nothing else);
  * statistics: requests per status, the largest number in flight, and a log
    of (seconds since start, method, path, status) for every data request.

Standard library only.
"""
import argparse
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qsl

# A fault is {"at": K, "kind": KIND, "times": N (default 1), "seconds": S
# (slow), "path": "substring" (optional: only data requests whose path holds
# it are counted for this fault)}.  It fires on the K-th matching data
# request (1-based) and the N-1 that follow it.
FAULT_KINDS = (
    "429",              # 429 with the vendor's body, no Retry-After
    "429_retry_after",  # 429 with Retry-After: 1
    "500",              # 500 with the vendor's body
    "503",              # 503 with the vendor's body
    "drop",             # the connection is closed without a response
    "slow",             # the response is sent after `seconds` (default 5)
    "truncate",         # full Content-Length, half the body, then close
    "badjson",          # 200 with a body that is not JSON
    "expire_token",     # the caller's token expires now (the vendor's 401)
    "empty_page",       # a valid page with no records, as past the end
)


class Response:
    def __init__(self, status=200, body=b"", headers=None, content_type="application/json"):
        self.status = status
        self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.headers = dict(headers or {})
        if content_type and "Content-Type" not in self.headers:
            self.headers["Content-Type"] = content_type


class Request:
    def __init__(self, method, raw_path, headers, body):
        parts = urlsplit(raw_path)
        self.method = method
        self.raw_path = raw_path
        self.path = parts.path
        self.query_string = parts.query
        self.query = parse_qsl(parts.query, keep_blank_values=True)
        self.args = dict(self.query)
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name, default)


class RateWindow:
    """At most `limit` requests per `window` seconds, the window opening at
    the first request after the previous one closed (as Veracross counts per
    token from its first request)."""

    def __init__(self, limit, window):
        self.limit, self.window = limit, window
        self.start, self.count = None, 0

    def take(self, now):
        """(allowed, remaining, reset_epoch_seconds_float)"""
        if self.start is None or now >= self.start + self.window:
            self.start, self.count = now, 0
        reset = self.start + self.window
        if self.count >= self.limit:
            return False, 0, reset
        self.count += 1
        return True, self.limit - self.count, reset


class Mock:
    """A vendor mock subclasses this and overrides the methods below."""

    def __init__(self, config):
        self.config = config
        self.lock = threading.RLock()
        self.rng = random.Random(config.get("seed", 1))

    # -- to override -------------------------------------------------------
    def data(self):
        """The whole data set, for GET /_mock/data."""
        return {}

    def is_data_request(self, req):
        """Whether faults and the data-request count apply (token endpoints: no)."""
        return True

    def handle(self, req):
        """The normal response to a request."""
        return Response(404, {"error": "not found"})

    def error(self, status, req):
        """The vendor's error response for an injected 429/500/503."""
        return Response(status, {"error": "injected %d" % status})

    def expire_token(self, req):
        """Expire the token the request carries."""

    def empty_page(self, req):
        """The vendor's empty page for this request's collection."""
        return Response(200, {"data": []})


class Stats:
    def __init__(self):
        self.t0 = time.time()
        self.reset()

    def reset(self):
        self.requests = 0
        self.data_requests = 0
        self.status_counts = {}
        self.inflight = 0
        self.max_inflight = 0
        self.log = []

    def as_json(self):
        return {"requests": self.requests, "data_requests": self.data_requests,
                "status_counts": self.status_counts, "max_inflight": self.max_inflight,
                "log": self.log}


def make_handler(mock, stats, faults_lock):
    fault_counts = {}  # index of the fault in the config -> matching data requests seen

    def pick_fault(req):
        hit = None
        for i, f in enumerate(mock.config.get("faults", [])):
            if f.get("path") and f["path"] not in req.raw_path:
                continue
            n = fault_counts.get(i, 0) + 1
            fault_counts[i] = n
            at, times = int(f.get("at", 1)), int(f.get("times", 1))
            if hit is None and at <= n < at + times:
                hit = f
        return hit

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet
            pass

        def _control(self, req):
            if req.path == "/_mock/data":
                with mock.lock:
                    return Response(200, mock.data())
            if req.path == "/_mock/stats":
                with faults_lock:
                    return Response(200, stats.as_json())
            if req.path == "/_mock/config" and req.method == "POST":
                with mock.lock:
                    mock.config.update(json.loads(req.body or b"{}"))
                with faults_lock:
                    fault_counts.clear()
                return Response(200, {"ok": True})
            if req.path == "/_mock/reset_stats" and req.method == "POST":
                with faults_lock:
                    stats.reset()
                return Response(200, {"ok": True})
            return Response(404, {"error": "unknown control path"})

        def _send(self, resp, truncate=False):
            self.send_response(resp.status)
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(resp.body)))
            if truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body[: len(resp.body) // 2] if truncate else resp.body)
            if truncate:
                self.wfile.flush()
                self.close_connection = True

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = Request(self.command, self.path, self.headers, body)
            if req.path.startswith("/_mock/"):
                self._send(self._control(req))
                return
            data = mock.is_data_request(req)
            with faults_lock:
                stats.requests += 1
                stats.inflight += 1
                stats.max_inflight = max(stats.max_inflight, stats.inflight)
                fault = None
                if data:
                    stats.data_requests += 1
                    fault = pick_fault(req)
            try:
                kind = fault and fault.get("kind")
                if kind == "drop":
                    self.close_connection = True
                    self._record(req, data, 0)
                    return
                if kind == "slow":
                    time.sleep(float(fault.get("seconds", 5)))
                if kind == "expire_token":
                    with mock.lock:
                        mock.expire_token(req)
                if kind in ("429", "429_retry_after", "500", "503"):
                    resp = mock.error(int(kind[:3]), req)
                    if kind == "429_retry_after":
                        resp.headers["Retry-After"] = "1"
                elif kind == "badjson":
                    resp = Response(200, b'{"data": [ {"id": 1, "first_name": "trunc')
                elif kind == "empty_page":
                    with mock.lock:
                        resp = mock.empty_page(req)
                else:
                    with mock.lock:
                        resp = mock.handle(req)
                self._send(resp, truncate=(kind == "truncate"))
                self._record(req, data, resp.status)
            finally:
                with faults_lock:
                    stats.inflight -= 1

        def _record(self, req, data, status):
            with faults_lock:
                key = str(status)
                stats.status_counts[key] = stats.status_counts.get(key, 0) + 1
                if data:
                    stats.log.append([round(time.time() - stats.t0, 3), req.method, req.raw_path, status])

        do_GET = _serve
        do_POST = _serve
        do_PUT = _serve
        do_DELETE = _serve

    return Handler


def serve(mock_class):
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", help="a JSON file of settings")
    ap.add_argument("--tls", action="store_true",
                    help="serve https with tests/mocks/tls/server.pem (signed by the test CA tls/ca.pem)")
    args = ap.parse_args()
    config = {}
    if args.config:
        with open(args.config) as fh:
            config = json.load(fh)
    mock = mock_class(config)
    stats = Stats()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(mock, stats, threading.Lock()))
    server.daemon_threads = True
    if args.tls:
        import ssl
        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(here, "server.pem"), os.path.join(here, "server.key"))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)
