"""Alerts: routing rules and quiet hours, channels, the outbox dispatcher and triage.

The store holds alerts, the outbox and the audit trail (store/alerts.py, store/audit.py);
this package decides where and when alerts go, sends them, and applies human decisions.
"""

from __future__ import annotations
