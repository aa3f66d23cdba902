"""Is the Hugging Face Hub reachable? Asked once per process, answered in at most a few seconds."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache

OFFLINE_ENVS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@dataclass(frozen=True)
class HubStatus:
    online: bool
    why: str


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


@lru_cache(maxsize=1)
def hub_status(timeout: float = 3.0) -> HubStatus:
    """Check the hub with one small request, unless the environment says we are offline."""
    for env in OFFLINE_ENVS:
        if _truthy(os.environ.get(env)):
            return HubStatus(False, f"{env}=1")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    url = f"{endpoint}/api/models/sentence-transformers/all-MiniLM-L6-v2"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return HubStatus(True, "reachable")
    except urllib.error.HTTPError as err:  # the server answered: it is reachable
        return HubStatus(err.code < 500, f"HTTP {err.code}")
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return HubStatus(False, f"no connection: {reason}")


def go_offline() -> None:
    """Tell huggingface_hub, transformers and datasets not to try the network (saves their timeouts)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as constants

        constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        pass
