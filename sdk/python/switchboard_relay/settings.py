"""`RelaySettings`: where the relay is and who the tenant is, from the environment (or Django's
settings). The variables are SWITCHBOARD_BASE_URL, SWITCHBOARD_TENANT_ID,
SWITCHBOARD_TENANT_SECRET (server-side only), SWITCHBOARD_CALLBACK_BASE_URL, and optionally
SWITCHBOARD_VISITOR_ORIGIN (the default origin of minted visitor tokens),
SWITCHBOARD_PREVIOUS_TENANT_SECRETS (comma-separated, during a rotation), SWITCHBOARD_TIMEOUT_S
and SWITCHBOARD_WEBHOOK_WINDOW_S."""

import os
from typing import Any, List, Mapping, Optional

from pydantic import BaseModel, validator

from .errors import RelayError

PREFIX = "SWITCHBOARD_"


class RelaySettingsError(RelayError, ValueError):
    """A setting is missing or malformed; the message names the variable."""


class RelaySettings(BaseModel):
    base_url: str
    tenant_id: str
    tenant_secret: str
    callback_base_url: Optional[str] = None
    visitor_origin: Optional[str] = None
    previous_tenant_secrets: List[str] = []
    timeout_s: float = 10.0
    webhook_window_s: int = 300

    class Config:
        allow_mutation = True

    @validator("base_url", "callback_base_url")
    def _no_trailing_slash(cls, v: Optional[str]) -> Optional[str]:
        return v.rstrip("/") if v else v

    @property
    def webhook_secrets(self) -> List[str]:
        """The secrets a webhook may be signed with: the current one, then any previous one."""
        return [self.tenant_secret] + [s for s in self.previous_tenant_secrets if s]

    def __repr__(self) -> str:  # never print the secret
        return "RelaySettings(base_url=%r, tenant_id=%r, tenant_secret='sk_…%s')" % (
            self.base_url,
            self.tenant_id,
            self.tenant_secret[-4:],
        )

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides: Any) -> "RelaySettings":
        """Read SWITCHBOARD_* from `environ` (default: os.environ); keyword arguments win."""
        env = os.environ if environ is None else environ
        return cls._from_lookup(lambda name: env.get(PREFIX + name), overrides)

    @classmethod
    def from_django(cls, **overrides: Any) -> "RelaySettings":
        """Read SWITCHBOARD_* from Django's settings, then from the environment."""
        from django.conf import settings as dj

        def lookup(name: str) -> Optional[str]:
            value = getattr(dj, PREFIX + name, None)
            return value if value not in (None, "") else os.environ.get(PREFIX + name)

        return cls._from_lookup(lookup, overrides)

    @classmethod
    def load(cls, **overrides: Any) -> "RelaySettings":
        """Django's settings when Django is configured, else the environment."""
        try:
            from django.conf import settings as dj

            if dj.configured:
                return cls.from_django(**overrides)
        except ImportError:
            pass
        return cls.from_env(**overrides)

    @classmethod
    def _from_lookup(cls, lookup: Any, overrides: Mapping[str, Any]) -> "RelaySettings":
        values: dict = {}
        for field, name in (
            ("base_url", "BASE_URL"),
            ("tenant_id", "TENANT_ID"),
            ("tenant_secret", "TENANT_SECRET"),
            ("callback_base_url", "CALLBACK_BASE_URL"),
            ("visitor_origin", "VISITOR_ORIGIN"),
            ("timeout_s", "TIMEOUT_S"),
            ("webhook_window_s", "WEBHOOK_WINDOW_S"),
        ):
            raw = lookup(name)
            if raw not in (None, ""):
                values[field] = raw
        previous = lookup("PREVIOUS_TENANT_SECRETS")
        if previous:
            values["previous_tenant_secrets"] = (
                [s.strip() for s in previous.split(",") if s.strip()] if isinstance(previous, str) else list(previous)
            )
        values.update({k: v for k, v in overrides.items() if v is not None})
        for field in ("base_url", "tenant_id", "tenant_secret"):
            if not values.get(field):
                raise RelaySettingsError("%s%s is not set" % (PREFIX, field.upper()))
        try:
            return cls(**values)
        except ValueError as e:
            raise RelaySettingsError("invalid SWITCHBOARD_* setting: %s" % e) from e
