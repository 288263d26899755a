"""``python -m auditlens.cli``: the ``auditlens`` command."""

from __future__ import annotations

from auditlens.cli import main

if __name__ == "__main__":  # pragma: no cover - importing (doctest collection) runs nothing
    main()
