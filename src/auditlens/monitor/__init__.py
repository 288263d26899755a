"""Monitoring: Prometheus metrics read from the store (``metrics``); see
docs/monitoring.md."""
