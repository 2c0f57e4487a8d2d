"""The profession × document-category matrix kept as data (`matrix.json`, versioned)."""

import json
from pathlib import Path

MATRIX_FILE = Path(__file__).resolve().parent / "matrix.json"


def matrix_defaults() -> dict:
    return json.loads(MATRIX_FILE.read_text(encoding="utf-8"))


def matrix_cells() -> list[tuple[str, str, bool]]:
    """(profession, category, allowed) for every profession and every category of the file."""
    data = matrix_defaults()
    return [
        (profession, category, category in allowed)
        for profession, allowed in data["allowed"].items()
        for category in data["categories"]
    ]
