"""Lists as CSV for Excel, Power BI and Tableau: ``Accept: text/csv`` or ``?format=csv``.

The columns of a list are the fields of its row model, in declaration order, with the
same snake_case names as the JSON (so a column never changes name between versions
without the JSON changing too). The body is UTF-8 with a byte-order mark (Excel then
reads Korean correctly), RFC 4180 (comma, CRLF, double quotes doubled, a field quoted
when it holds a comma, quote or line break). Cells:

* empty for null; ``true``/``false`` for booleans; numbers as JSON writes them;
* a list as its items joined by ``;``; an object (or a list of objects) as compact JSON;
* **CSV injection guard** (OWASP): a text cell starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return gets a leading ``'`` so a spreadsheet never runs it as a
  formula. Numbers are left as numbers (a negative number is data, not a formula).

Pagination stays as in JSON (``limit``/``offset``); the response headers carry
``X-Total-Count`` and, unless on the last page, ``X-Next-Offset``.

Example::

    >>> class Row(BaseModel):
    ...     user_id: str
    ...     risk: float
    ...     note: str | None = None
    >>> text = to_csv(Row, [Row(user_id="U1", risk=91.5, note="=HYPERLINK(1)")])
    >>> text.startswith(BOM), text[1:].splitlines()
    (True, ['user_id,risk,note', "U1,91.5,'=HYPERLINK(1)"])
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, Final

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

MEDIA_TYPE: Final = "text/csv"
BOM: Final = "\ufeff"
#: First characters a spreadsheet reads as the start of a formula.
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def wants_csv(request: Request, format_: str | None) -> bool:
    """True when the caller asked for CSV: ``?format=csv``, or ``Accept: text/csv``
    (``?format=json`` wins over the header)."""
    if format_ is not None:
        return format_ == "csv"
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip().lower() == MEDIA_TYPE for part in accept.split(","))


def guard(text: str) -> str:
    """``text`` safe from CSV injection: a leading ``'`` when it starts like a formula."""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def cell(value: Any) -> str:
    """One value as a CSV cell (rules in the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, Enum):
        return guard(str(value.value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return guard(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))
    if isinstance(value, list | tuple):
        if any(isinstance(v, Mapping | BaseModel) for v in value):
            dumped = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
            return guard(json.dumps(dumped, ensure_ascii=False, separators=(",", ":")))
        return guard(";".join(cell(v).lstrip("'") for v in value))
    if isinstance(value, BaseModel):
        return cell(value.model_dump(mode="json"))
    return guard(str(value))


def columns(model: type[BaseModel]) -> list[str]:
    """The CSV columns of a list of ``model`` rows: its field names, in order."""
    return list(model.model_fields)


def to_csv(model: type[BaseModel], rows: Iterable[BaseModel]) -> str:
    """The rows as a CSV document (with BOM and header line)."""
    names = columns(model)
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(names)
    for row in rows:
        writer.writerow([cell(getattr(row, name)) for name in names])
    return out.getvalue()


def csv_response(
    model: type[BaseModel],
    rows: Iterable[BaseModel],
    *,
    filename: str,
    total: int | None = None,
    next_offset: int | None = None,
) -> Response:
    """A ``text/csv; charset=utf-8`` response of ``rows`` (attachment ``filename``)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if total is not None:
        headers["X-Total-Count"] = str(total)
    if next_offset is not None:
        headers["X-Next-Offset"] = str(next_offset)
    return Response(
        to_csv(model, rows).encode("utf-8"),
        media_type=f"{MEDIA_TYPE}; charset=utf-8",
        headers=headers,
    )


def csv_content(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI ``content`` entry documenting the CSV form of a list of ``model`` rows."""
    names = ", ".join(columns(model))
    return {
        MEDIA_TYPE: {
            "schema": {
                "type": "string",
                "description": f"UTF-8 CSV with BOM (RFC 4180); columns: {names}",
            },
            "example": BOM + ",".join(columns(model)) + "\r\n",
        }
    }
