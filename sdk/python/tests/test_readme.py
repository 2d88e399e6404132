"""The snippets of sdk/python/README.md, run as they are printed, against the relay: a tenant of
their own, SWITCHBOARD_* pointing at it, the FastAPI snippet's app served by uvicorn as the
callback base URL."""

import contextlib
import io
import os
import re
import unittest
from typing import Any, Dict, List
from unittest import mock

from switchboard_relay import reset_chat_client, sign_request

from .support import ORIGIN, SDK_README, UvicornThread, admin, provision_tenant, wait_for


def snippets() -> List[str]:
    text = SDK_README.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def run(code: str, namespace: Dict[str, Any]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(SDK_README), "exec"), namespace)
    return out.getvalue()


class ReadmeShapeTests(unittest.TestCase):
    def test_install_and_blocks(self) -> None:
        text = SDK_README.read_text(encoding="utf-8")
        self.assertIn("pip install ./sdk/python", text)
        self.assertGreaterEqual(len(snippets()), 8)


@admin
class ReadmeSnippetTests(unittest.TestCase):
    def test_the_snippets_work_as_written(self) -> None:
        tenant = provision_tenant(allowed_origins=[ORIGIN, "app://my_shop_app"])
        env = {
            "SWITCHBOARD_BASE_URL": tenant.base_url,
            "SWITCHBOARD_TENANT_ID": tenant.tenant_id,
            "SWITCHBOARD_TENANT_SECRET": tenant.tenant_secret,
        }
        blocks = snippets()
        by_file = {b.splitlines()[0]: b for b in blocks if b.startswith("# ")}
        plain = [b for b in blocks if not b.startswith("# ")]
        quick, async_quick, fastapi_app, configure, framework_free, errors = plain
        with mock.patch.dict(os.environ, env):
            reset_chat_client()
            try:
                out = run(quick, {})
                self.assertIn("1 visitor Where is my order?", out)
                self.assertRegex(out, r"eyJ\S+ \d{4}-")
                out = run(async_quick, {})
                self.assertEqual(len(out.strip().splitlines()), 1)  # one conversation for user-123

                app_ns: Dict[str, Any] = {}
                run(fastapi_app, app_ns)
                with UvicornThread(app_ns["app"]) as server:
                    os.environ["SWITCHBOARD_CALLBACK_BASE_URL"] = server.url
                    reset_chat_client()
                    out = run(configure, {})
                    delivery_id = out.split()[0]
                    chat = app_ns["relay"].client
                    wait_for(
                        lambda: chat.get_delivery(delivery_id).status.value == "delivered",
                        what="the README's test webhook",
                    )
                    self.assertEqual(chat.get_webhooks().callback_base_url, server.url)
                    chat.configure_webhooks(callback_base_url=None)

                ns: Dict[str, Any] = {}
                run(framework_free, ns)
                path = "/api/v1/chat-callbacks/conversation-started"
                body = b'{"id":"e-1","type":"conversation-started","data":{}}'
                headers = sign_request(tenant.tenant_id, tenant.tenant_secret, "POST", path, body)
                with contextlib.redirect_stdout(io.StringIO()):
                    self.assertEqual(ns["handle"](headers, path, body), (200, {"received": True}))
                    self.assertEqual(ns["handle"](headers, path, body)[0], 401)  # replayed

                self.assertIn("404 conversation/not_found", run(errors, {}))
            finally:
                reset_chat_client()

        # Django: the urls.py snippet resolves; the settings and apps.py snippets run.
        from . import test_django  # noqa: F401  (configures Django)
        from django.urls import resolve
        from switchboard_relay.adapters import django as relay_django

        urls: Dict[str, Any] = {}
        run(by_file["# urls.py"], urls)
        self.assertEqual(len(urls["urlpatterns"]), 1)
        with mock.patch.dict(os.environ, env):
            settings_ns: Dict[str, Any] = {}
            run(by_file["# settings.py"], settings_ns)
            self.assertEqual(settings_ns["SWITCHBOARD_TENANT_SECRET"], tenant.tenant_secret)
        run(by_file["# apps.py (ready)"], {})
        try:
            self.assertIn("ticket-created", relay_django._pending)
        finally:
            relay_django.reset()
        self.assertEqual(resolve("/api/v1/chat-callbacks/message-received").url_name, "switchboard_relay_callback")
