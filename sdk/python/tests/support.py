"""What the tests share: the relay from the environment (the Node wrapper, python-sdk.test.ts,
starts it and provisions a tenant), more tenants through the admin key, a webhook server."""

import json
import os
import socket
import threading
import time
import unittest
import uuid
from pathlib import Path
from typing import Any, Callable, Dict

import httpx

from switchboard_relay import RelaySettings

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "docs" / "hmac-vectors.json"
SDK_README = Path(__file__).resolve().parents[1] / "README.md"

BASE_URL = os.environ.get("SWITCHBOARD_BASE_URL", "")
ADMIN_KEY = os.environ.get("SWITCHBOARD_TEST_ADMIN_KEY", "")
ORIGIN = os.environ.get("SWITCHBOARD_TEST_ORIGIN", "https://app.acme.com")

live = unittest.skipUnless(
    BASE_URL and os.environ.get("SWITCHBOARD_TENANT_ID") and os.environ.get("SWITCHBOARD_TENANT_SECRET"),
    "no relay: run through `npm test -- sdk/python/python-sdk.test.ts`",
)
admin = unittest.skipUnless(BASE_URL and ADMIN_KEY, "no relay admin key")


def unique(prefix: str) -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def provision_tenant(**extra: Any) -> RelaySettings:
    """A new tenant of the relay (its own secret, webhooks, knowledge base)."""
    body = {"tenant_name": unique("py"), "allowed_origins": [ORIGIN], "rate_limit_per_min": 10000, **extra}
    r = httpx.post(BASE_URL + "/api/v1/provision/tenant", json=body, headers={"X-Admin-Key": ADMIN_KEY})
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    settings = RelaySettings(base_url=BASE_URL, tenant_id=data["tenant_id"], tenant_secret=data["tenant_secret"])
    WIDGET_KEYS[settings.tenant_id] = data["widget_public_key"]
    return settings


WIDGET_KEYS: Dict[str, str] = {}


def open_widget_conversation(settings: RelaySettings) -> str:
    """A conversation as the widget opens it (bot mode when the tenant has a knowledge base)."""
    body = {"tenant_id": settings.tenant_id, "widget_public_key": WIDGET_KEYS[settings.tenant_id], "origin": ORIGIN}
    r = httpx.post(BASE_URL + "/api/v1/create/visitor-session", json=body, headers={"Origin": ORIGIN})
    assert r.status_code == 201, r.text
    return r.json()["data"]["conversation_id"]


def wait_for(predicate: Callable[[], Any], timeout_s: float = 15.0, what: str = "condition") -> Any:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class UvicornThread:
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[assignment]
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "UvicornThread":
        self.thread.start()
        wait_for(lambda: self.server.started, 10, "uvicorn to start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def load_vectors() -> Dict[str, Any]:
    return json.loads(VECTORS.read_text(encoding="utf-8"))
