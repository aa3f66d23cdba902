"""The hub check accepts only the hub's own answer; anything else is offline, with the reason (local server only)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import profiles

API_PATH = f"/api/models/{profiles.PROBE_MODEL}"


class _Handler(BaseHTTPRequestHandler):
    mode = "json"

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass

    def _send(self, code: int, body: bytes, kind: str, **headers: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # the http.server API
        port = self.server.server_address[1]
        if self.path == "/portal":  # a captive portal's login page, on "another host"
            self._send(200, b"<html>Please log in</html>", "text/html")
        elif self.mode == "404":
            self._send(404, b"not found", "text/plain")
        elif self.mode == "redirect":
            self._send(302, b"", "text/html", Location=f"http://localhost:{port}/portal")
        elif self.mode == "html":
            self._send(200, b"<html><body>Welcome to the hotel Wi-Fi</body></html>", "text/html")
        elif self.mode == "other-json":
            self._send(200, json.dumps({"id": "someone/else"}).encode(), "application/json")
        elif self.mode == "slow":
            time.sleep(5)
            self._send(200, b"{}", "application/json")
        elif self.path == API_PATH:
            body = {"_id": "x", "id": profiles.PROBE_MODEL, "modelId": profiles.PROBE_MODEL, "downloads": 1}
            self._send(200, json.dumps(body).encode(), "application/json")
        else:
            self._send(404, b"", "text/plain")


@pytest.fixture
def server(monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}")
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(("mode", "online", "why"), [
    ("json", True, "127.0.0.1 answered as the hub"),
    ("404", False, "127.0.0.1 answered HTTP 404, not the hub's model API"),
    ("redirect", False, "127.0.0.1 redirected to localhost (a captive portal"),
    ("html", False, "127.0.0.1 answered, but not with the hub's JSON"),
    ("other-json", False, f"127.0.0.1 answered JSON that is not the hub's entry for {profiles.PROBE_MODEL}"),
    ("slow", False, "no connection to 127.0.0.1: timed out"),
])
def test_only_the_hubs_own_answer_counts_as_online(server, monkeypatch, mode, online, why):
    monkeypatch.setattr(_Handler, "mode", mode)
    start = time.monotonic()
    status = profiles.hub_status(timeout=1.0)
    assert time.monotonic() - start < 4  # bounded: a slow or odd answer never stalls a notebook's first cell
    assert status.online is online and why in status.why


def test_the_reason_reaches_the_banner(server, monkeypatch):
    from helpers import session

    monkeypatch.setattr(_Handler, "mode", "redirect")
    text = session.banner(session.setup("tiny", "sample", show=False))
    assert "hub: offline (127.0.0.1 redirected to localhost (a captive portal" in text
