"""Webhooks: signed JSON bodies posted to a real local HTTP server, failures recorded and retried
by the Celery task."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from traceview.models import Issue, WebhookDelivery
from traceview.triage import services as triage
from traceview.triage.tasks import deliver_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings):
    """A local HTTP server that records requests and answers with `receiver.status`. Loopback
    is allowed for it, as a self-hoster allows an internal receiver."""
    settings.TRACEVIEW_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            server.received.append((self.headers, body))  # case-insensitive
            self.send_response(server.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.received, server.status = [], 204
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does with the signature header."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


def test_it_signs_the_timestamp_and_body_with_hmac_sha256():
    header = triage.webhook_sign("s3cret", 1700000000, b'{"a":1}')
    assert header.startswith("t=1700000000,v1=")
    assert verify("s3cret", header, b'{"a":1}')
    assert not verify("s3cret", header, b'{"a":2}')
    assert not verify("other", header, b'{"a":1}')


def test_it_delivers_a_signed_json_body(project, fail, receiver):
    hook = triage.webhook_configure(project, receiver.url)
    fail("t1")
    delivery = WebhookDelivery.objects.get()
    delivered = triage.webhook_deliver(delivery.id)
    assert (delivered.status, delivered.attempts) == ("delivered", 1)
    assert delivered.response_status == 204
    ((headers, body),) = receiver.received
    assert headers["Content-Type"] == "application/json"
    assert headers["X-TraceView-Event"] == "issue.created"
    assert verify(hook.secret, headers["X-TraceView-Signature"], body)
    payload = json.loads(body)
    issue = Issue.objects.get()
    assert payload["event"] == "issue.created" and payload["delivery"] == delivery.id
    assert payload["issue"]["id"] == issue.id and payload["issue"]["title"] == issue.title
    # A duplicated task does not send it twice.
    triage.webhook_deliver(delivery.id)
    assert len(receiver.received) == 1


def test_it_records_a_failing_endpoint_and_retries_with_backoff(project, fail, receiver):
    receiver.status = 500
    triage.webhook_configure(project, receiver.url)
    fail("t1")
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(triage.DeliveryFailed):
        triage.webhook_deliver(delivery.id)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, 500)
    assert "HTTP 500" in delivery.last_error
    # The task retries (eagerly here, so without waiting) until it gives up.
    result = deliver_webhook.apply(args=[delivery.id])
    assert isinstance(result.result, triage.DeliveryFailed)
    delivery.refresh_from_db()
    assert delivery.attempts == 1 + 1 + deliver_webhook.max_retries
    assert deliver_webhook.retry_backoff and deliver_webhook.retry_backoff_max >= 600
    # The endpoint recovers: the next attempt is delivered.
    receiver.status = 200
    assert triage.webhook_deliver(delivery.id).status == "delivered"


def test_it_records_an_unreachable_endpoint(project, fail, receiver):
    url = receiver.url
    receiver.shutdown()
    receiver.server_close()
    triage.webhook_configure(project, url)
    fail("t1")
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(triage.DeliveryFailed):
        triage.webhook_deliver(delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.response_status is None
    # In our words: what the network stack said would tell a closed port from a filtered one.
    assert delivery.last_error == "could not connect, or the connection broke"


def test_it_shows_delivery_failures_on_the_pages(project, fail, receiver, browser_client):
    receiver.status = 503
    triage.webhook_configure(project, receiver.url)
    fail("t1")
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(triage.DeliveryFailed):
        triage.webhook_deliver(delivery.id)
    page = browser_client.get(f"/projects/{project.id}/webhook/").content.decode()
    assert "HTTP 503" in page and "failed" in page
    issue_page = browser_client.get(f"/issues/{Issue.objects.get().id}/").content.decode()
    assert "HTTP 503" in issue_page


# --- Request forgery ----------------------------------------------------------------------------

INSIDE = ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/",
          "http://192.168.0.10/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
          "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/",
          "http://[fd00:ec2::254]/"]


@pytest.mark.parametrize("url", INSIDE)
def test_it_refuses_to_save_a_url_that_points_inside(project, browser_client, url):
    r = browser_client.post(f"/projects/{project.id}/webhook/", {"url": url}, follow=True)
    assert "not public" in r.content.decode()
    assert not triage.ProjectWebhook.objects.exists()


def test_it_refuses_at_delivery_a_url_that_points_inside_now(project, fail, receiver, settings):
    # Saved while allowed (or while its name resolved elsewhere); the network is allowed no more.
    triage.webhook_configure(project, receiver.url)
    settings.TRACEVIEW_WEBHOOK_ALLOWED_NETWORKS = []
    fail("t1")
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(triage.DeliveryFailed):
        triage.webhook_deliver(delivery.id)
    delivery.refresh_from_db()
    assert receiver.received == []
    assert delivery.last_error.startswith("refused: the address is not public")


def test_it_never_shows_what_the_receiver_said(project, fail, receiver):
    # A receiver that hangs up without answering: Python calls it RemoteDisconnected.
    class Hangup(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.connection.close()

        def log_message(self, *args):
            pass

    receiver.RequestHandlerClass = Hangup
    triage.webhook_configure(project, receiver.url)
    fail("t1")
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(triage.DeliveryFailed):
        triage.webhook_deliver(delivery.id)
    delivery.refresh_from_db()
    assert delivery.last_error == "could not connect, or the connection broke"


def test_it_connects_to_the_address_it_checked_and_names_the_host(project, fail, receiver,
                                                                  settings):
    settings.TRACEVIEW_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    port = receiver.server_address[1]
    triage.webhook_configure(project, f"http://localhost:{port}/hook?x=1")
    fail("t1")
    assert triage.webhook_deliver(WebhookDelivery.objects.get().id).status == "delivered"
    ((headers, _),) = receiver.received
    assert headers["Host"] == f"localhost:{port}"
