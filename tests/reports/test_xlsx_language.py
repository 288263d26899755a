"""The XLSX report speaks one language: no Hangul in the English workbook, no run of
English words in the Korean one (data excepted: people's notes, ids, hashes, paths)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from auditlens.reports.formats import writer
from auditlens.reports.model import ReportData
from auditlens.reports.xlsx import sheet_name
from tests.organisation import Organisation
from tests.test_cli_language import HANGUL, latin_run


def _texts(path: Path, lang: str) -> list[tuple[str, str]]:
    """(where, text) of every text cell but the decisions' notes (what people typed)."""
    book = openpyxl.load_workbook(path)
    found = []
    for ws in book.worksheets:
        notes = 9 if ws.title == sheet_name("decisions", lang) else None
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.column != notes:
                    found.append((f"{ws.title}!{cell.coordinate}", cell.value))
    return found


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_workbook_is_in_one_language(
    lang: str, report_data: ReportData, report_organisation: Organisation, tmp_path: Path
) -> None:
    data = report_data.model_copy(update={"lang": lang})
    path = writer("xlsx")(data, tmp_path, report_organisation.settings)
    texts = _texts(path, lang)
    assert len(texts) > 500
    if lang == "en":
        bad = [(where, text) for where, text in texts if HANGUL.search(text)]
    else:
        bad = [(where, latin_run(text)) for where, text in texts if latin_run(text)]
    assert not bad, bad[:20]
