"""Write chainrule/data/digits.npz, the 8x8 digits that ``chainrule.data.digits()`` loads, from the
copy scikit-learn bundles (run once; the result is committed, so chainrule never needs
scikit-learn at run time).

The data: the test part of "Optical Recognition of Handwritten Digits" (E. Alpaydin, C. Kaynak,
1998), UCI Machine Learning Repository, https://doi.org/10.24432/C50P49, CC BY 4.0.

    python tools/make_digits_file.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

TARGET = Path(__file__).resolve().parent.parent / "chainrule" / "data" / "digits.npz"


def main() -> None:
    bunch = load_digits()
    images, labels = bunch.data, bunch.target
    # Pixels are counts 0..16 and labels 0..9: uint8 holds both exactly.
    if images.shape != (1797, 64) or not np.array_equal(images, np.round(images)) or images.max() > 16:
        raise ValueError(f"unexpected digits data: shape {images.shape}, max {images.max()}")
    np.savez_compressed(TARGET, images=images.astype(np.uint8), labels=labels.astype(np.uint8))
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes): images {images.shape}, labels {labels.shape}")


if __name__ == "__main__":
    main()
