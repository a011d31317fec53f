"""CloudWatch Synthetics canary script: the site's health-check URL must answer 200.

Packaged by `PerformanceMonitoring` as `python/health_canary.py` for a `syn-python-selenium-*`
runtime (handler `health_canary.handler`). A run fails (and the canary's `SuccessPercent`
drops) when the request errors, times out or ends in any status but 200; redirects, such as
HTTP to HTTPS, are followed. Standard library only: no browser is needed to check an endpoint.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 10.0
URL_VARIABLE = "TARGET_URL"


class HealthCheckFailed(Exception):
    """The health-check URL did not answer 200."""


def check(url: str, timeout: float = TIMEOUT_SECONDS) -> int:
    """GET `url`; return 200 or raise `HealthCheckFailed` saying what came back instead."""
    if not url.startswith(("http://", "https://")):
        raise HealthCheckFailed(f"{URL_VARIABLE} must be an http(s) URL (got {url!r})")
    request = urllib.request.Request(
        url, headers={"User-Agent": "groundwork-health-canary", "Cache-Control": "no-cache"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise HealthCheckFailed(f"GET {url} answered {exc.code}, expected 200") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HealthCheckFailed(f"GET {url} failed: {reason}") from None
    if status != 200:
        raise HealthCheckFailed(f"GET {url} answered {status}, expected 200")
    return status


def handler(event: Any, context: Any) -> str:
    """Synthetics entry point: an exception fails the run."""
    url = os.environ.get(URL_VARIABLE, "")
    status = check(url)
    print(f"GET {url} answered {status}")
    return "healthy"
