"""HMAC#1 checked with Python's standard library only (docs/hmac.md).

usage: hmac_vectors.py VECTORS_JSON [BASE_URL TENANT_ID TENANT_SECRET]

Verifies every vector of VECTORS_JSON (body hash, string to sign, signature, and that a changed
byte fails); with a server, also makes two signed calls to it and prints their answers as JSON.
"""

import hashlib
import hmac
import json
import secrets
import sys
import time
import urllib.request


def string_to_sign(method, path_and_query, timestamp, nonce, body: bytes) -> str:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join(["HMAC1", method.upper(), path_and_query, str(timestamp), nonce, body_hash])


def sign(secret: str, method, path_and_query, timestamp, nonce, body: bytes) -> str:
    message = string_to_sign(method, path_and_query, timestamp, nonce, body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(secrets_, headers, method, path_and_query, body: bytes, now=None, window=300) -> bool:
    ts = headers["X-Relay-Timestamp"]
    if not ts.isdigit() or abs((now or time.time()) - int(ts)) > window:
        return False
    given = headers["X-Relay-Signature"].removeprefix("v1=")
    nonce = headers["X-Relay-Nonce"]
    ok = False
    for s in secrets_:  # every candidate compared, in constant time
        ok = hmac.compare_digest(sign(s, method, path_and_query, ts, nonce, body), given) or ok
    return ok


def check_vectors(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    for v in vectors:
        body = v["body"].encode("utf-8")
        assert hashlib.sha256(body).hexdigest() == v["body_sha256"], v["name"]
        sts = string_to_sign(v["method"], v["path_and_query"], v["timestamp"], v["nonce"], body)
        assert sts == v["string_to_sign"], v["name"]
        sig = sign(v["secret"], v["method"], v["path_and_query"], v["timestamp"], v["nonce"], body)
        assert sig == v["signature"], v["name"]
        headers = v["headers"]
        assert headers["X-Relay-Signature"] == "v1=" + sig, v["name"]
        at = v["timestamp"]
        assert verify([v["secret"]], headers, v["method"], v["path_and_query"], body, now=at)
        assert verify(["sk_other", v["secret"]], headers, v["method"], v["path_and_query"], body, now=at)
        assert not verify(["sk_other"], headers, v["method"], v["path_and_query"], body, now=at)
        assert not verify([v["secret"]], headers, v["method"], v["path_and_query"] + "x", body, now=at)
        assert not verify([v["secret"]], headers, v["method"], v["path_and_query"], body + b" ", now=at)
        assert not verify([v["secret"]], headers, v["method"], v["path_and_query"], body, now=at + 301)
    return len(vectors)


def call(base, tenant, secret, method, path, body: bytes = b""):
    ts, nonce = int(time.time()), secrets.token_urlsafe(24)
    headers = {
        "X-Relay-Tenant": tenant,
        "X-Relay-Timestamp": str(ts),
        "X-Relay-Nonce": nonce,
        "X-Relay-Signature": "v1=" + sign(secret, method, path, ts, nonce, body),
        "Content-Type": "application/json",
    }
    req = urllib.request.Request(base + path, data=body or None, method=method, headers=headers)
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read().decode("utf-8"))


def main() -> None:
    count = check_vectors(sys.argv[1])
    out = {"vectors_ok": count}
    if len(sys.argv) == 5:
        base, tenant, secret = sys.argv[2:5]
        body = json.dumps({"visitor_user_id": "py-user", "visitor_display_name": "Zoë 🐍"}, ensure_ascii=False)
        out["conversation"] = call(base, tenant, secret, "POST", "/api/v1/relay/conversations", body.encode("utf-8"))
        out["usage"] = call(base, tenant, secret, "GET", "/api/v1/relay/usage?days=1")
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
