"""Regenerate the README's images from a fresh run of the shipped config.

    python3 scripts/readme_images.py

runs ``optbench run configs/paraboloid.yaml`` into a temporary directory and copies a few of
its plots to ``docs/images/``. Drawing is deterministic, so an unchanged run gives unchanged
files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "paraboloid.yaml"
TARGET = REPO / "docs" / "images"

#: The plots the README shows, by their stable file names.
IMAGES = (
    "paths-02-fig-8-2.png",
    "paths-06-fig-8-6.png",
    "sweep-elongated-lr.png",
    "map-elongated-momentum-lr-x-momentum.png",
    "ecdf.png",
)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "optbench", "run", str(CONFIG), "--out", tmp, "--quiet"],
            cwd=REPO, check=True, capture_output=True, text=True,
        )
        run_dir = Path(result.stdout.strip())
        TARGET.mkdir(parents=True, exist_ok=True)
        for name in IMAGES:
            shutil.copyfile(run_dir / name, TARGET / name)
            print(TARGET.relative_to(REPO) / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
