"""scripts/demo.sh says in one line which port is taken, before it sets anything up or waits for the stand-ins.

The script runs from a copy in a temp dir (it works relative to its own location), so this test never touches this
checkout's .venv or a demo someone left running here.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_taken_port_is_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "demo.sh", tmp_path / "scripts" / "demo.sh")
    try:
        listener = socket.create_server(("127.0.0.1", 8701))
    except OSError:
        listener = None  # already taken on this machine: the demo must say so all the same
    try:
        result = subprocess.run(
            ["bash", str(tmp_path / "scripts" / "demo.sh")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        if listener is not None:
            listener.close()
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "demo: port 8701 on 127.0.0.1 is taken by another program; the stand-ins need 8701 and 8702 "
        "(meltano.yml's sandbox environment): stop that program and run again"
    ]
    assert not (tmp_path / ".venv").exists()
