"""Alert subscribers: follow the alerts topic, deliver to webhooks, keep each alert's lifecycle in Postgres."""


class AlertingError(RuntimeError):
    """Base of the alerting layer's errors."""
