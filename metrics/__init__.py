"""Observability: Prometheus metrics (``registry``), structlog set-up (``logging``),
secret redaction (``redact``) and raw request/response capture (``capture``)."""
