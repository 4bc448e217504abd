"""Content-Security-Policy on every response, and JSON errors on API paths.

Trace data is untrusted and rendered in these pages; escaping is the first defence and this
policy the second: no inline script, no eval, nothing loaded from another origin.
"""

import logging
import time

from django.conf import settings
from django.http import JsonResponse

from traceview.routers import replica_configured, replica_reads

log = logging.getLogger(__name__)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # plotly positions its SVG with inline styles; styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


# Paths that machines call: exporters and SDKs print an error body to the agent's stderr, so it
# must be a short JSON document, never an HTML page. LangSmith's client calls the server's root
# (`/info`, `/runs...`, `/otel/...`).
API_PREFIXES = ("/api/", "/v1/", "/runs", "/info", "/otel/")
STATUS_REASONS = {
    404: "no endpoint here; the API is described at /api/schema/",
    405: "method not allowed",
    500: "internal server error",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


class JsonApiErrorMiddleware:
    """Errors on API paths answered as `{"errors": [{"path", "reason"}]}`, whatever raised them.

    DRF views already answer so; this covers what never reaches them: an unknown path (Django's
    404 page, or its technical page under DEBUG), a method a plain view refuses, an exception
    that escaped a view (the 500 page), a failure inside another middleware. It must stay first
    in MIDDLEWARE, so it sees the final response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path_info)
            and not response.get("Content-Type", "").startswith("application/")
        ):
            return self.json_error(request, response.status_code)
        return response

    def process_exception(self, request, exception):
        if not is_api_path(request.path_info):
            return None
        log.error("unhandled error on %s %s", request.method, request.path_info,
                  exc_info=exception)
        return self.json_error(request, 500)

    @staticmethod
    def json_error(request, status: int):
        reason = STATUS_REASONS.get(status, "the request failed")
        if status == 404:
            reason = f"{request.method} {request.path_info[:200]}: {reason}"
        return JsonResponse({"errors": [{"path": "", "reason": reason}]}, status=status)


PIN_COOKIE = "tv_primary_until"
# Machines and the admin always read from the primary (see traceview.routers).
PRIMARY_PATHS = ("/api/", "/v1/", "/admin/")


class ReplicaReadsMiddleware:
    """Serve a user's page reads from the replica unless they wrote in the last few seconds."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_configured():
            return self.get_response(request)
        safe = request.method in ("GET", "HEAD")
        try:
            pinned = float(request.COOKIES.get(PIN_COOKIE, 0)) > time.time()
        except ValueError:
            pinned = False
        token = replica_reads.set(
            safe and not pinned and not request.path.startswith(PRIMARY_PATHS))
        try:
            response = self.get_response(request)
        finally:
            replica_reads.reset(token)
        if not safe:
            pin = settings.TRACEVIEW_REPLICA_PIN_S
            response.set_cookie(PIN_COOKIE, f"{time.time() + pin:.3f}", max_age=int(pin) + 1,
                                httponly=True, samesite="Lax")
        return response
