"""Notification settings (each user her own) and webhooks (administrators)."""
from __future__ import annotations

from gridloop.engine import failed_deliveries, subscriptions

from ..services import reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Notifications", __name__, url_prefix="/api/v1",
                   description="Where users are told of their work; webhooks for other systems")


@blp.route("/users/<username>/notifications")
@blp.response(200, schemas.NotificationSettings)
@errors(403, 404)
def settings(username):
    """A user's notification settings, every event's channels spelled out (403 for anyone
    but herself)."""
    with reading() as s:
        return subscriptions.get_settings(s, actor(), username)


@blp.route("/users/<username>/notifications", methods=["PUT"])
@blp.arguments(schemas.NotificationSettingsInput)
@blp.response(200, schemas.NotificationSettings)
@errors(403, 404)
def save_settings(body, username):
    """Set her email address, the language of her emails and, per event, the channels she
    wants (403 for anyone but herself; 400 naming the bad field)."""
    return runtime().save_notification_settings(actor(), username, email=body["email"], language=body["language"],
                                                channels=body["channels"])


@blp.route("/webhooks")
@blp.response(200, schemas.Webhook(many=True))
@errors(403)
def webhook_list():
    """The active webhooks, without their secrets (administrators only)."""
    with reading() as s:
        return subscriptions.list_webhooks(s, actor())


@blp.route("/webhooks", methods=["POST"])
@blp.arguments(schemas.WebhookCreate)
@blp.response(201, schemas.Webhook)
@errors(403, 404)
def webhook_add(body):
    """Register a webhook; the answer holds its signing secret, shown this once
    (administrators only; 404 for an unknown user)."""
    return runtime().add_webhook(actor(), body["url"], events=body["events"], username=body["user"])


@blp.route("/webhooks/<int:webhook_id>", methods=["DELETE"])
@blp.response(204)
@errors(403, 404)
def webhook_remove(webhook_id):
    """Stop posting to a webhook; what it has not received yet is recorded as failed."""
    runtime().remove_webhook(actor(), webhook_id)


@blp.route("/notifications/failed")
@blp.arguments(schemas.PagingQuery, location="query")
@blp.response(200, schemas.FailedDeliveryPage)
@errors(403)
def failed_list(query):
    """Deliveries that failed for good, newest first, each with its last error (administrators only)."""
    with reading() as s:
        items, total = failed_deliveries.failed(s, actor(), page=query["page"], per_page=query["per_page"])
    return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}


@blp.route("/notifications/<int:notification_id>/retry", methods=["POST"])
@blp.response(200, schemas.FailedDelivery)
@errors(403, 404, 409)
def failed_retry(notification_id):
    """Send a failed delivery again (the worker's next pass; a fresh set of attempts);
    409 unless it failed (administrators only)."""
    return runtime().retry_delivery(actor(), notification_id)
