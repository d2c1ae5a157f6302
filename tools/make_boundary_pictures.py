"""Write the README's decision-boundary pictures into docs/images/: the moons with a linear
model's straight boundary next to a network's bent one (examples/moons_spirals.py), and the XOR
restarts animation (examples/xor.py), each from a full run of its example.

    python tools/make_boundary_pictures.py
"""

import runpy
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PICTURES = {"moons_spirals.py": "moons_boundary.png", "xor.py": "xor_restarts.gif"}


def main() -> None:
    target = ROOT / "docs" / "images"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for example, picture in PICTURES.items():
            runpy.run_path(str(ROOT / "examples" / example), run_name="example")["main"](out=folder)
            shutil.copyfile(Path(folder) / picture, target / picture)
            print("copied", target / picture)


if __name__ == "__main__":
    main()
