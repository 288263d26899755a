"""Alert throughput: raise N alerts, dispatch them to a local webhook server (Slack Block
Kit) and a JSON Lines file, then verify the audit trail. Prints figures, not a test.

    .venv/bin/python bench/bench_alerts.py [N]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pydantic import SecretStr

from auditlens.alerts.channels import FileChannel
from auditlens.alerts.dispatch import RetryPolicy, dispatch
from auditlens.alerts.intake import Criteria, Detection, admit
from auditlens.alerts.routing import Rule, Schedule
from auditlens.alerts.webhooks import SlackChannel
from auditlens.calendar import BusinessCalendar
from auditlens.config import Settings
from auditlens.store.audit_repository import AuditRepository
from auditlens.store.repo import Store


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def main(n: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/services/T/B/x"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store_url=f"sqlite:///{tmp}/s.db", data_dir=Path(tmp))  # type: ignore[arg-type]
        store = Store.open(settings, migrate=True)
        now = dt.datetime(2026, 9, 8, 1, tzinfo=dt.UTC)
        detections = [
            Detection(
                i,
                1,
                f"U{i:05d}",
                "retail",
                now.date(),
                80.0,
                "high",
                [{"feature": "off_hours_login_ratio", "ko": "업무시간 외", "en": "off hours"}],
                "a" * 64,
                "c",
            )
            for i in range(1, n + 1)
        ]
        rules = [Rule("r", ("slack", "file"), Schedule.always_open(BusinessCalendar()))]
        criteria = Criteria("medium", 50.0, n, 24.0)
        began = time.perf_counter()
        admit(store.engine, detections, rules, criteria, now)
        raised = time.perf_counter() - began
        channels = {
            "slack": SlackChannel("slack", webhook_url=SecretStr(url)),
            "file": FileChannel("file", path=Path(tmp) / "alerts.jsonl"),
        }
        began = time.perf_counter()
        report = dispatch(
            store.engine, channels, clock=lambda: now, policy=RetryPolicy(), limit=10 * n
        )
        sent = time.perf_counter() - began
        began = time.perf_counter()
        check = AuditRepository(store.engine).verify()
        verified = time.perf_counter() - began
        store.close()
    server.shutdown()
    print(
        f"raised {n:,} alerts (detect + alert entries, 2 routes each) in {raised:.2f} s "
        f"= {n / raised:,.0f} alerts/s"
    )
    print(
        f"delivered {report.sent:,} deliveries (local webhook + JSON Lines file) in "
        f"{sent:.2f} s = {report.sent / sent:,.0f} deliveries/s"
    )
    print(
        f"verified the audit trail: {check.entries:,} entries in {verified:.2f} s "
        f"= {check.entries / verified:,.0f} entries/s; ok={check.ok}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
