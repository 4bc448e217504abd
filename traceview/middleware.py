"""Content-Security-Policy on every response.

Trace data is untrusted and rendered in these pages; escaping is the first defence and this
policy the second: no inline script, no eval, nothing loaded from another origin.
"""

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
