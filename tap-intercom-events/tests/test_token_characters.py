"""An access token that an HTTP header cannot carry (a line break inside it, as when two lines of a
file are pasted) stops the tap with one line naming the setting; the token is in nothing it prints,
in any form (requests quoted it whole, escaped, twice: in its error and in the traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tap_intercom_events_testing import make_config, selected_catalog

SECRET = "tok3nSecretPart"


@pytest.mark.parametrize(
    "inside", ["\r\n", "\n", "\x00", "\u00e9"], ids=["crlf", "lf", "nul", "e-acute"]
)
def test_a_token_a_header_cannot_carry_stops_with_one_line_and_is_never_printed(
    start_intercom: Any, tmp_path: Path, inside: str
) -> None:
    url = start_intercom()
    token = "abc" + inside + SECRET
    (tmp_path / "config.json").write_text(json.dumps(make_config(url, access_token=token)))
    (tmp_path / "catalog.json").write_text(json.dumps(selected_catalog(("contacts",))))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tap_intercom_events",
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    (line,) = [x for x in result.stderr.splitlines() if "HTTP header cannot carry" in x]
    assert "ERROR" in line and "access_token" in line
    assert "Traceback" not in result.stderr
    for printed in (result.stdout, result.stderr):
        assert SECRET not in printed
        assert "abc" + repr(inside)[1:-1] not in printed
