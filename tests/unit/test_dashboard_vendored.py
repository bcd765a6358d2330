"""The chart library is uPlot's prebuilt file from the npm registry, unedited: each vendored
file's sha256 is the one recorded with its package@version in static/VENDORED."""

from __future__ import annotations

import hashlib
from pathlib import Path

import slipway.dashboard

STATIC = Path(slipway.dashboard.__file__).parent / "static"


def test_vendored_files_match_their_recorded_sha256() -> None:
    rows = [
        line.split()
        for line in (STATIC / "VENDORED").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rows, "VENDORED lists no files"
    for name, package, _path, sha256 in rows:
        assert "@" in package
        digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()
        assert digest == sha256, f"{name} is not {package}'s file; see VENDORED to refresh it"
    assert (STATIC / "uPlot.LICENSE").read_text().startswith("The MIT License")


def test_pages_load_nothing_from_another_host() -> None:
    templates = Path(slipway.dashboard.__file__).parent / "templates"
    for page in [*templates.rglob("*.html"), *STATIC.glob("*.js"), *STATIC.glob("*.css")]:
        if page.name.startswith("uPlot"):
            continue
        text = page.read_text()
        assert "http://" not in text
        assert "https://" not in text, page
