"""The one /healthz probe: does the process at a URL answer its health check?

Every deployable serves ``GET /healthz`` (200 and a small JSON body while it can serve). The
launcher, the load tools and the demo all ask it through these two functions."""
import http.client
import json
import urllib.request


def health(url: str, timeout: float = 2.0) -> dict | None:
    """The /healthz answer's JSON object if it is a 200, else None (nothing, or an error, answers)."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=timeout) as r:
            body = json.loads(r.read() or b"{}")
            return body if r.status == 200 and isinstance(body, dict) else None
    except (OSError, ValueError, http.client.HTTPException):
        return None


def answers_healthz(url: str | None, timeout: float = 1.0) -> bool:
    """The process at ``url`` answers /healthz with 200."""
    if not url:
        return False
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=timeout) as r:
            return r.status == 200
    except (OSError, http.client.HTTPException):
        return False
