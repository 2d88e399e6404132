"""HMAC#1: the published vectors, and the verifier's refusals (window, nonce, rotation)."""

import unittest

from switchboard_relay import NonceStore, compute_signature, sign_request, string_to_sign, verify_request
from switchboard_relay.signing import EMPTY_BODY_SHA256, new_nonce

from .support import load_vectors


class VectorTests(unittest.TestCase):
    def test_every_vector(self) -> None:
        vectors = load_vectors()["vectors"]
        self.assertGreaterEqual(len(vectors), 6)
        for v in vectors:
            with self.subTest(v["name"]):
                body = v["body"].encode("utf-8")
                self.assertEqual(
                    string_to_sign(v["method"], v["path_and_query"], v["timestamp"], v["nonce"], body),
                    v["string_to_sign"],
                )
                self.assertEqual(
                    compute_signature(v["secret"], v["method"], v["path_and_query"], v["timestamp"], v["nonce"], body),
                    v["signature"],
                )
                headers = sign_request(
                    v["tenant_id"],
                    v["secret"],
                    v["method"],
                    v["path_and_query"],
                    v["body"],  # a str is signed as its UTF-8 bytes
                    timestamp=v["timestamp"],
                    nonce=v["nonce"],
                )
                self.assertEqual(headers, v["headers"])
                at = lambda: float(v["timestamp"])  # noqa: E731 - the vector's own time is "now"
                args = (v["headers"], v["method"], v["path_and_query"])
                self.assertTrue(verify_request([v["secret"]], *args, body, now=at))
                self.assertTrue(verify_request(["sk_previous", v["secret"]], *args, body, now=at))
                self.assertEqual(verify_request([v["secret"]], *args, body + b" ", now=at).reason, "bad_signature")
                late = lambda: float(v["timestamp"]) + 301  # noqa: E731
                self.assertEqual(verify_request([v["secret"]], *args, body, now=late).reason, "stale_timestamp")

    def test_empty_body_hash(self) -> None:
        self.assertEqual(EMPTY_BODY_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

    def test_lower_case_method_is_upper_cased(self) -> None:
        self.assertEqual(
            string_to_sign("delete", "/x", 1, "n" * 16, b"").split("\n")[1],
            "DELETE",
        )


class VerifierTests(unittest.TestCase):
    secret = "sk_test_verifier"
    tenant = "0190f5a2-7c3e-7a41-9b2d-5e8f1c6a3d70"
    path = "/hooks/api/v1/chat-callbacks/message-received"

    def signed(self, body: bytes = b'{"a":1}', **kw):
        return sign_request(self.tenant, kw.pop("secret", self.secret), "POST", self.path, body, **kw)

    def test_nonce_is_single_use(self) -> None:
        store = NonceStore()
        headers = self.signed()
        self.assertTrue(verify_request(self.secret, headers, "POST", self.path, b'{"a":1}', nonce_store=store))
        again = verify_request(self.secret, headers, "POST", self.path, b'{"a":1}', nonce_store=store)
        self.assertEqual(again.reason, "replayed_nonce")

    def test_a_forged_signature_does_not_spend_the_nonce(self) -> None:
        store = NonceStore()
        good = self.signed()
        forged = dict(good, **{"X-Relay-Signature": "v1=" + "0" * 64})
        self.assertEqual(
            verify_request(self.secret, forged, "POST", self.path, b'{"a":1}', nonce_store=store).reason,
            "bad_signature",
        )
        self.assertTrue(verify_request(self.secret, good, "POST", self.path, b'{"a":1}', nonce_store=store))

    def test_missing_and_malformed_headers(self) -> None:
        headers = self.signed()
        del headers["X-Relay-Nonce"]
        self.assertEqual(verify_request(self.secret, headers, "POST", self.path, b'{"a":1}').reason, "missing_headers")
        bad = self.signed(nonce="short")
        self.assertEqual(verify_request(self.secret, bad, "POST", self.path, b'{"a":1}').reason, "malformed")

    def test_headers_are_case_insensitive(self) -> None:
        headers = {k.lower(): v for k, v in self.signed().items()}
        self.assertTrue(verify_request(self.secret, headers, "POST", self.path, b'{"a":1}'))

    def test_several_secrets_and_the_tenant(self) -> None:
        headers = self.signed(secret="sk_new")
        self.assertEqual(verify_request([self.secret], headers, "POST", self.path, b'{"a":1}').reason, "bad_signature")
        self.assertTrue(verify_request([self.secret, "sk_new"], headers, "POST", self.path, b'{"a":1}'))
        other = verify_request("sk_new", headers, "POST", self.path, b'{"a":1}', tenant_id="someone-else")
        self.assertEqual(other.reason, "unknown_tenant")

    def test_the_path_is_signed(self) -> None:
        headers = self.signed()
        other = self.path.replace("message-received", "ticket-created")
        self.assertFalse(verify_request(self.secret, headers, "POST", other, b'{"a":1}'))

    def test_window(self) -> None:
        headers = self.signed(timestamp=1_000_000)
        at = lambda: 1_000_000 + 59.0  # noqa: E731
        self.assertTrue(verify_request(self.secret, headers, "POST", self.path, b'{"a":1}', now=at, window_s=60))
        late = lambda: 1_000_000 + 61.0  # noqa: E731
        self.assertEqual(
            verify_request(self.secret, headers, "POST", self.path, b'{"a":1}', now=late, window_s=60).reason,
            "stale_timestamp",
        )

    def test_nonces_are_fresh_and_well_formed(self) -> None:
        nonces = {new_nonce() for _ in range(100)}
        self.assertEqual(len(nonces), 100)
        for n in nonces:
            self.assertRegex(n, r"^[A-Za-z0-9_-]{16,64}$")
