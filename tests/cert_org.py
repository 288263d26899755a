"""A small CERT-format organisation (logon.csv, device.csv, LDAP/) with quiet insiders.

Written by us, not taken from any CERT release (whose answer key must never be used):
everyone has their own PC, logs on between 07:30 and 09:30 on workdays and off between
17:00 and 19:30; some staff use a USB stick every few days, some work late now and then,
IT staff log on at night and on colleagues' PCs, a few people share a second PC. The
planted insiders, in the last third, do a handful of things they never did before:

* ``after_hours_usb``: 1-2 late-night logons (22:00-01:00), a USB stick on each;
* ``foreign_pc``: 1-3 logons on a colleague's PC (another department) at lunch;
* ``new_usb``: a USB stick on 2-3 days, never used before.

``write_cert_org(folder, seed)`` writes the files and returns the insiders' user ids.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

START = dt.date(2026, 10, 12)  # a Monday; no public holiday in the next three weeks
DEPARTMENTS = ("Finance", "Sales", "Operations", "Compliance", "IT")


def write_cert_org(
    folder: Path, *, users: int = 160, days: int = 21, insiders: int = 9, seed: int = 3
) -> dict[str, str]:
    """Write logon.csv, device.csv and LDAP/2026-09.csv under ``folder``; return
    ``{user_id: scenario}`` of the planted insiders."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"AAA{i:04d}" for i in range(users)]
    dept = {u: DEPARTMENTS[i % len(DEPARTMENTS)] for i, u in enumerate(ids)}
    pc = {u: f"PC-{i:04d}" for i, u in enumerate(ids)}
    usb_user = {u: rng.random() < 0.3 for u in ids}
    late_user = {u: dept[u] == "IT" or rng.random() < 0.08 for u in ids}
    second_pc = {u: f"PC-S{rng.randrange(10):02d}" for u in ids if rng.random() < 0.1}
    candidates = [u for u in ids if dept[u] != "IT" and not usb_user[u] and not late_user[u]]
    planted = rng.sample(candidates, insiders)
    scenarios = ("after_hours_usb", "foreign_pc", "new_usb")
    scenario = {u: scenarios[i % 3] for i, u in enumerate(planted)}
    logon: list[tuple[dt.datetime, str, str, str]] = []
    device: list[tuple[dt.datetime, str, str, str]] = []
    workdays = [START + dt.timedelta(days=d) for d in range(days)]
    workdays = [d for d in workdays if d.weekday() < 5]

    def at(day: dt.date, hour: float) -> dt.datetime:
        return dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=hour)

    for u in ids:
        for day in workdays:
            if rng.random() < 0.05:  # leave
                continue
            on, off = rng.uniform(7.5, 9.5), rng.uniform(17.0, 19.5)
            logon += [(at(day, on), u, pc[u], "Logon"), (at(day, off), u, pc[u], "Logoff")]
            if u in second_pc and rng.random() < 0.3:
                t = rng.uniform(10, 16)
                logon += [(at(day, t), u, second_pc[u], "Logon")]
                logon += [(at(day, t + 0.5), u, second_pc[u], "Logoff")]
            if usb_user[u] and rng.random() < 0.35:
                t = rng.uniform(on + 0.2, off - 0.5)
                device += [(at(day, t), u, pc[u], "Connect")]
                device += [(at(day, t + 0.3), u, pc[u], "Disconnect")]
            if late_user[u] and rng.random() < 0.15:
                t = rng.uniform(20.0, 23.5)
                host = pc[rng.choice(ids)] if dept[u] == "IT" and rng.random() < 0.5 else pc[u]
                logon += [(at(day, t), u, host, "Logon"), (at(day, t + 0.7), u, host, "Logoff")]
    late_days = workdays[len(workdays) * 2 // 3 :]
    for u, kind in scenario.items():
        days_used = sorted(rng.sample(late_days, 3))
        if kind == "after_hours_usb":
            for day in days_used[: rng.randint(1, 2)]:
                t = rng.uniform(22.0, 25.0)
                logon += [(at(day, t), u, pc[u], "Logon"), (at(day, t + 0.8), u, pc[u], "Logoff")]
                device += [(at(day, t + 0.2), u, pc[u], "Connect")]
                device += [(at(day, t + 0.5), u, pc[u], "Disconnect")]
        elif kind == "foreign_pc":
            other = rng.choice([v for v in ids if dept[v] != dept[u]])
            for day in days_used[: rng.randint(1, 3)]:
                t = rng.uniform(12.0, 13.0)
                logon += [(at(day, t), u, pc[other], "Logon")]
                logon += [(at(day, t + 0.4), u, pc[other], "Logoff")]
        else:
            for day in days_used[: rng.randint(2, 3)]:
                t = rng.uniform(10.0, 16.0)
                device += [(at(day, t), u, pc[u], "Connect")]
                device += [(at(day, t + 0.4), u, pc[u], "Disconnect")]
    _write(folder / "logon.csv", logon, "L")
    _write(folder / "device.csv", device, "D")
    (folder / "LDAP").mkdir(exist_ok=True)
    with (folder / "LDAP" / "2026-09.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["employee_name", "user_id", "email", "role", "department"])
        for u in ids:
            role = "ITAdmin" if dept[u] == "IT" else "Employee"
            out.writerow([u, u, f"{u.lower()}@example.com", role, dept[u]])
    return scenario


def _write(path: Path, rows: list[tuple[dt.datetime, str, str, str]], prefix: str) -> None:
    rows.sort()
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "date", "user", "pc", "activity"])
        for i, (when, user, host, activity) in enumerate(rows):
            out.writerow(
                [f"{{{prefix}{i:06d}}}", f"{when:%m/%d/%Y %H:%M:%S}", user, host, activity]
            )
