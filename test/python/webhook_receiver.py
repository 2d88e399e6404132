"""A tenant's webhook endpoint with Python's standard library only (docs/hmac.md, HMAC#1).

usage: webhook_receiver.py PORT            (env WEBHOOK_SECRET; several, comma-separated, during a rotation)
       webhook_receiver.py --vectors VECTORS_JSON

Receiver: listens on 127.0.0.1:PORT (0 picks one), prints {"listening": port} once bound, then one
JSON line per request: {"event", "id", "attempt", "path", "tenant_id", "verified", "reason"}.
A verified request is answered 200 {"received": true}, anything else 401.

Vectors: recomputes every vector's body hash, string to sign and signature, verifies its headers
at the vector's own time, prints a JSON summary and exits 1 on any mismatch.
"""

import hashlib
import hmac
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WINDOW_S = 300
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SIGNATURE = re.compile(r"^v1=[0-9a-f]{64}$")

seen = {}  # (tenant, nonce) -> expiry (s)
seen_lock = threading.Lock()
out_lock = threading.Lock()


def string_to_sign(method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join(["HMAC1", method.upper(), path_and_query, timestamp, nonce, body_hash])


def sign(secret: str, method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path_and_query, timestamp, nonce, body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(secrets_, headers, method, path_and_query, body: bytes, now=None, remember=True):
    """None when the request holds, else why not (the relay's own reason names)."""
    tenant = headers.get("X-Relay-Tenant") or ""
    ts = headers.get("X-Relay-Timestamp") or ""
    nonce = headers.get("X-Relay-Nonce") or ""
    given = headers.get("X-Relay-Signature") or ""
    if not (tenant and ts and nonce and given):
        return "missing_headers"
    if not ts.isdigit() or not NONCE.match(nonce) or not SIGNATURE.match(given):
        return "malformed"
    now = time.time() if now is None else now
    if abs(now - int(ts)) > WINDOW_S:
        return "stale_timestamp"
    ok = False
    for secret in secrets_:  # every candidate computed and compared in constant time
        ok = hmac.compare_digest(sign(secret, method, path_and_query, ts, nonce, body), given[3:]) or ok
    if not ok:
        return "bad_signature"
    if remember:
        with seen_lock:
            if seen.get((tenant, nonce), 0) > now:
                return "replayed_nonce"
            seen[(tenant, nonce)] = now + 2 * WINDOW_S
    return None


def emit(obj) -> None:
    with out_lock:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
        sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    secrets_ = []

    def log_message(self, format, *args):  # the JSON lines are the only output
        pass

    def answer(self, status: int, body) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self) -> None:
        raw = self.read_body()
        reason = verify(self.secrets_, self.headers, self.command, self.path, raw)
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = {}
        emit(
            {
                "event": self.path.split("?")[0].rstrip("/").split("/")[-1],
                "id": body.get("id") if isinstance(body, dict) else None,
                "type": body.get("type") if isinstance(body, dict) else None,
                "attempt": self.headers.get("X-Relay-Attempt"),
                "path": self.path,
                "tenant_id": self.headers.get("X-Relay-Tenant"),
                "verified": reason is None,
                "reason": reason,
            }
        )
        if reason is None:
            self.answer(200, {"received": True})
        else:
            self.answer(401, {"error": reason})


def check_vectors(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    failed = []
    for v in vectors:
        body = v["body"].encode("utf-8")
        ts, nonce = str(v["timestamp"]), v["nonce"]
        problems = []
        if hashlib.sha256(body).hexdigest() != v["body_sha256"]:
            problems.append("body_sha256")
        if string_to_sign(v["method"], v["path_and_query"], ts, nonce, body) != v["string_to_sign"]:
            problems.append("string_to_sign")
        sig = sign(v["secret"], v["method"], v["path_and_query"], ts, nonce, body)
        if sig != v["signature"] or v["headers"].get("X-Relay-Signature") != "v1=" + sig:
            problems.append("signature")
        at = int(v["timestamp"])
        args = (v["headers"], v["method"], v["path_and_query"])
        if verify([v["secret"]], *args, body, now=at, remember=False) is not None:
            problems.append("verify")
        if verify(["sk_other", v["secret"]], *args, body, now=at, remember=False) is not None:
            problems.append("verify_rotation")
        if verify([v["secret"]], *args, body + b" ", now=at, remember=False) != "bad_signature":
            problems.append("tampered_body_accepted")
        if verify([v["secret"]], *args, body, now=at + WINDOW_S + 1, remember=False) != "stale_timestamp":
            problems.append("stale_accepted")
        if problems:
            failed.append({"name": v["name"], "problems": problems})
    emit({"vectors": len(vectors), "ok": len(vectors) - len(failed), "failed": failed})
    return 1 if failed or not vectors else 0


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--vectors":
        return check_vectors(sys.argv[2])
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    secrets_ = [s for s in os.environ.get("WEBHOOK_SECRET", "").split(",") if s]
    if not secrets_:
        sys.stderr.write("WEBHOOK_SECRET is not set\n")
        return 2
    Handler.secrets_ = secrets_
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    emit({"listening": server.server_address[1]})
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
