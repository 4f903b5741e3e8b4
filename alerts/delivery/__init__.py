"""Alert delivery: the durable Redis outbox, channels (Alertmanager v4, Slack, Teams, Grafana), retries."""

from alerts.delivery.backoff import DeliveryPolicy
from alerts.delivery.notifier import Notifier, notification_id
from alerts.delivery.signing import sign, verify

__all__ = ["DeliveryPolicy", "Notifier", "notification_id", "sign", "verify"]
