"""Is the Hugging Face Hub reachable? Asked once per process, answered in at most a few seconds.

"Reachable" means an answer only the hub gives: the model API's JSON for all-MiniLM-L6-v2, with that model's id,
from the endpoint's own host. A 4xx/5xx, a redirect to another host (a captive portal's login page), an HTML page
or JSON about something else all count as offline, and the reason says which.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

OFFLINE_ENVS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
PROBE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_MAX_BYTES = 2_000_000  # the model API's answer is a few kB; a portal page is not read to the end


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
    return probe(endpoint, timeout)


def probe(endpoint: str, timeout: float = 3.0) -> HubStatus:
    """GET the model API of PROBE_MODEL at `endpoint` and accept only the hub's own answer (see the module doc).

    Bounded in time: `timeout` per network operation, and at most about 2 x `timeout` for reading the body."""
    url = f"{endpoint}/api/models/{PROBE_MODEL}"
    host = urlsplit(url).hostname
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    deadline = time.monotonic() + 2 * timeout
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            final_host = urlsplit(response.geturl()).hostname
            if final_host != host:
                return HubStatus(False, f"{host} redirected to {final_host} (a captive portal or a proxy login?)")
            body = b""
            while len(body) <= _MAX_BYTES:
                chunk = response.read(65536)
                if not chunk:
                    break
                body += chunk
                if time.monotonic() > deadline:
                    return HubStatus(False, f"{host} answered too slowly (over {2 * timeout:g} s)")
    except urllib.error.HTTPError as err:
        return HubStatus(False, f"{host} answered HTTP {err.code}, not the hub's model API")
    except (urllib.error.URLError, OSError, ValueError) as err:  # refused, DNS, timeout, malformed URL
        reason = getattr(err, "reason", err)
        return HubStatus(False, f"no connection to {host}: {reason}")
    try:
        data = json.loads(body)
    except ValueError:
        return HubStatus(False, f"{host} answered, but not with the hub's JSON (a captive portal or a proxy page?)")
    if not isinstance(data, dict) or PROBE_MODEL not in (data.get("id"), data.get("modelId")):
        return HubStatus(False, f"{host} answered JSON that is not the hub's entry for {PROBE_MODEL}")
    return HubStatus(True, f"{host} answered as the hub")


def go_offline() -> None:
    """Tell huggingface_hub, transformers and datasets not to try the network (saves their timeouts)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as constants

        constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        pass
