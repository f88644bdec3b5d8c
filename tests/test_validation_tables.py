"""The validation tables in the README and docs/validation.md are what scripts/validate.py computes today."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_validation_tables_are_current_and_every_miss_is_explained() -> None:
    """validate.py --check: the generated tables match the estimator, and each record outside its tolerance is
    explained by id in the README (a change to a figure shows here, and the README has to say why)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "validate.py"), "--check"], capture_output=True, text=True, check=False
    )
    assert 0 == proc.returncode, proc.stderr
