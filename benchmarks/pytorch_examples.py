"""PyTorch's own example scripts on chainrule after the import swap alone: does each run, and does
it print PyTorch's losses? (issue 17's yardstick; torch is needed here, never in the library)

    python benchmarks/pytorch_examples.py --examples DIR [--only mnist,regression,vae,mnist_rnn,style]

DIR is a checkout of the official examples: `git clone https://github.com/pytorch/examples DIR`
(the scripts stay out of this repository). Without --examples only our own script-style programs
(tests/pytorch_style/*.py, `main(torch)` with the library passed in) run under both libraries.
`--only more` (or their names) runs other scripts of the repository (MORE_SCRIPTS below:
time_sequence_prediction, mnist_forward_forward, dcgan, mass_spring, word_language_model) with
stand-in data files written in their working directory; they are not part of the default run.

Each script runs twice, each time in a fresh subprocess started by this file (`--child`): once as
it is under PyTorch, once after a text rewrite of its import statements alone (`import torch` ->
`import chainrule as torch`, `import torch.nn as nn` -> `import chainrule.nn as nn`, `from torch.x
import y` -> `from chainrule.x import y`; everything else, `torch.utils.data` included, keeps its
path under chainrule). In the chainrule run `import torch` raises, so a missed line cannot fall
back on PyTorch. Both runs get:

- a stand-in `torchvision` first on sys.path (torchvision downloads are out of reach):
  `datasets.MNIST` gives deterministic random uint8 images of MNIST's shape (28x28) and int
  labels, the same NumPy arrays for both libraries (--train-size, --test-size samples);
  `transforms.Compose/ToTensor/Normalize` turn them into tensors of the library being run;
  `utils.save_image` writes a placeholder file where the script asks for a picture;
- epochs cut by the script's own flags (SCRIPTS below: `--epochs 2`, `--dry-run` where the script
  has it, small batches), and a fresh working directory;
- float64 (`set_default_dtype(float64)`), `manual_seed(0)` before the script starts (so the
  PyTorch run's initial weights repeat from one harness run to the next even where the script
  seeds nothing), and one shared NumPy generator, drawn in program order,
  through these patches, the same in both libraries:
    * `randn(*size)` and `randn_like(t)`: standard normals from the shared generator;
    * `nn.functional.dropout`/`dropout2d` and `nn.Dropout.forward`/`nn.Dropout2d.forward`: inverted
      dropout whose keep-mask (uniform >= p) comes from the shared generator; dropout2d masks
      whole channels as PyTorch does (dims 2+ of a 4-d input; a 2-d or 3-d input is one unbatched
      sample whose channels are dim 0, so a (N, C) input loses whole rows);
    * `utils.data.DataLoader(..., shuffle=True)`: shuffle=False with a sampler whose order is a
      permutation from the shared generator;
    * `nn.Module.__call__` and `optim.Optimizer.__init__`: the first call of a module (making
      of an optimizer) sets each of its parameters not yet set, in order of `named_parameters()`
      (of the optimizer's groups): the PyTorch run writes their values to a shared
      .safetensors file, the chainrule run reads them back (`p.data = tensor(values)`), so both
      start from PyTorch's initial weights;
    * `Tensor.item`: every value it returns to the script itself is logged at full precision (losses,
      counts), so the comparison does not stop at the printed digits.

The patched functions are thereby the harness's in both runs (dropout's own code, for instance, is
checked by the test suite, not here). regression/main.py needs no flags: it stops by itself once
its loss is below 1e-3. Our style programs are deterministic without patches (weights and noise
come from NumPy), so they run unpatched, `main(torch)` in each library.

Options: --against torch checks the harness itself (PyTorch against PyTorch seeded differently
must agree to the last bit through the patches alone); --keep DIR keeps each run's folder (the
rewritten script, initial.safetensors, the logged values); --verbose prints every run's output.

The report is a table of script / status of each run (`ok`, or the first error line) / number of
values compared and their max relative difference, over the logged `.item()` values and the
numbers printed on every line (text and integers must match; a printed decimal may differ by
one unit of its last digit, a rounding flip) / number of weight tensors compared at the end of
the run (every parameter set at a first call) and their max relative difference (max|a - b| /
max|a| per tensor). Exit status 1 when a run fails or a difference exceeds --rtol (1e-6).
"""

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STYLE_DIR = ROOT / "tests" / "pytorch_style"

# script -> (path in the examples checkout, the script's own flags that cut it short)
SCRIPTS = {
    "mnist": (
        "mnist/main.py",
        ["--epochs", "2", "--dry-run", "--log-interval", "1", "--batch-size", "32", "--test-batch-size", "64"],
    ),
    "regression": ("regression/main.py", []),
    "vae": ("vae/main.py", ["--epochs", "2", "--batch-size", "32", "--log-interval", "1"]),
    "mnist_rnn": (
        "mnist_rnn/main.py",
        ["--epochs", "2", "--dry-run", "--log-interval", "1", "--batch-size", "32", "--test-batch-size", "64"],
    ),
}
# other scripts of the same repository (issue 17's follow-up), run only when named in --only (or
# `--only more`): their stand-in data is written by _standin_files, and some stop by design (see
# docs/pytorch.md, "Other scripts of pytorch/examples")
MORE_SCRIPTS = {
    # LBFGS on float64 LSTMCells; a stand-in traindata.pt of 5 short sine waves instead of 100 x 1000
    "time_sequence_prediction": ("time_sequence_prediction/train.py", ["--steps", "2", "--device", "cpu"]),
    # Hinton's forward-forward on MNIST-shaped data; torch.randint patched like randn
    "mnist_forward_forward": (
        "mnist_forward_forward/main.py",
        ["--epochs", "3", "--train_size", "64", "--test_size", "32", "--log-interval", "1", "--no_mps"],
    ),
    # torchvision's FakeData stand-in (random 3x64x64 images); narrow layers to stay fast
    "dcgan": (
        "dcgan/main.py",
        [
            "--dataset",
            "fake",
            "--dry-run",
            "--batchSize",
            "4",
            "--nz",
            "8",
            "--ngf",
            "4",
            "--ndf",
            "4",
            "--workers",
            "0",
            "--manualSeed",
            "1",
        ],
    ),
    # a differentiable mass-spring simulation: in-place updates of views of a zeros buffer
    "mass_spring": (
        "differentiable_physics/mass_spring.py",
        ["--epochs", "20", "--log_interval", "5", "--steps", "15"],
    ),
    # a stand-in corpus of random words from a 50-word vocabulary in ./data/wikitext-2
    "word_language_model": (
        "word_language_model/main.py",
        [
            "--epochs",
            "1",
            "--emsize",
            "8",
            "--nhid",
            "8",
            "--bptt",
            "5",
            "--batch_size",
            "4",
            "--log-interval",
            "2",
            "--dropout",
            "0.2",
        ],
    ),
}
SHARED_SEED = 20240917  # the shared generator's seed: any fixed number
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")

# ------------------------------------------------------------------------------- the import swap


def _swap_alias(alias: ast.alias) -> str:
    """One name of an `import` statement under chainrule, still bound to what the script uses."""
    name, asname = alias.name, alias.asname
    if name != "torch" and not name.startswith("torch."):
        return name + (f" as {asname}" if asname else "")
    swapped = "chainrule" + name[len("torch") :]
    if asname:
        return f"{swapped} as {asname}"
    if name == "torch":
        return "chainrule as torch"
    # `import torch.utils.data` binds `torch`: import the submodule, then bind the name
    return f"{swapped}, chainrule as torch"


def swap_imports(source: str) -> str:
    """The script with its torch imports pointed at chainrule; nothing else changes.

    >>> print(swap_imports("import torch\\nimport torch.nn as nn\\nfrom torch.optim.lr_scheduler import StepLR\\n"))
    import chainrule as torch
    import chainrule.nn as nn
    from chainrule.optim.lr_scheduler import StepLR
    <BLANKLINE>
    """
    lines = source.splitlines(keepends=True)
    edits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "torch" for a in node.names):
            text = "import " + ", ".join(_swap_alias(a) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == "torch":
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
            text = f"from chainrule{node.module[len('torch') :]} import {names}"
        else:
            continue
        edits.append((node.lineno, node.end_lineno, node.col_offset, text))
    for first, last, col, text in sorted(edits, reverse=True):
        ending = "\n" if lines[last - 1].endswith("\n") else ""
        lines[first - 1 : last] = [lines[first - 1][:col] + text + ending]
    return "".join(lines)


# ---------------------------------------------------------------------------- stand-in torchvision

STANDIN = {
    "torchvision/__init__.py": '''"""Stand-in torchvision for benchmarks/pytorch_examples.py: no downloads,
the same data for both libraries (HARNESS_LIBRARY names the one being run)."""
from torchvision import datasets, transforms, utils
''',
    "torchvision/_library.py": """import importlib
import os

library = importlib.import_module(os.environ["HARNESS_LIBRARY"])
""",
    "torchvision/datasets.py": '''"""MNIST's shapes and dtypes (28x28 uint8 images, int labels 0-9),
deterministic random values."""
import os

import numpy as np


class MNIST:
    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        size = int(os.environ["HARNESS_TRAIN_SIZE" if train else "HARNESS_TEST_SIZE"])
        generator = np.random.default_rng(1 if train else 2)
        self.data = generator.integers(0, 256, size=(size, 28, 28), dtype=np.uint8)
        self.targets = generator.integers(0, 10, size=size)
        self.transform, self.target_transform = transform, target_transform
        self.train = train

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class FakeData:
    """torchvision's FakeData: random images of image_size (C, H, W) as H x W x C uint8 arrays."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        generator = np.random.default_rng(3)
        channels, height, width = image_size
        self.data = generator.integers(0, 256, size=(size, height, width, channels), dtype=np.uint8)
        self.targets = generator.integers(0, num_classes, size=size)
        self.transform, self.target_transform = transform, target_transform

    __len__ = MNIST.__len__
    __getitem__ = MNIST.__getitem__
''',
    "torchvision/transforms.py": '''"""ToTensor and Normalize computed in NumPy float64, handed over as
the library's tensors."""
import numpy as np

from torchvision._library import library


def _array(image):
    return np.array(image, dtype=np.float64)


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image


class ToTensor:
    def __call__(self, image):
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        return library.tensor(np.ascontiguousarray(array.transpose(2, 0, 1)) / 255.0,
                              dtype=library.get_default_dtype())


class Normalize:
    def __init__(self, mean, std, inplace=False):
        self.mean, self.std = mean, std

    def __call__(self, tensor):
        array = _array(tensor)
        mean = np.asarray(self.mean, dtype=np.float64).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=np.float64).reshape(-1, 1, 1)
        return library.tensor((array - mean) / std, dtype=library.get_default_dtype())


class Lambda:
    def __init__(self, lambd):
        self.lambd = lambd

    def __call__(self, image):
        return self.lambd(image)
''',
    "torchvision/utils.py": '''"""save_image writes a placeholder where the script expects a picture."""
import os


def save_image(tensor, fp, nrow=8, **kwargs):
    folder = os.path.dirname(str(fp))
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(fp, "wb") as f:
        f.write(b"stand-in for a picture: benchmarks/pytorch_examples.py\\n")
''',
}

# ------------------------------------------------------------------------ in the child: the patches


class _Shared:
    """The one NumPy generator both runs draw from, and the logs the child writes."""

    def __init__(self, writes_weights, workdir, weights_file):
        self.rng = np.random.default_rng(SHARED_SEED)
        self.writes_weights = writes_weights
        self.items = []
        self.items_file = Path(workdir) / "items.json"
        self.weights_file = Path(weights_file)
        self.weights = {}
        self.set_ids = set()
        self.called = set()
        self.script = None
        self.parameters = []  # (key, parameter) in the order they were first set


def _install_patches(lib, shared):
    """Make randomness and initial weights equal across the two libraries (see the docstring)."""
    nn, F = lib.nn, lib.nn.functional
    default = lib.get_default_dtype

    def size_of(size):
        return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)

    def randn(*size, dtype=None, requires_grad=False, **ignored):  # device, generator, layout...
        values = shared.rng.standard_normal(size_of(size))
        return lib.tensor(values, dtype=dtype or default(), requires_grad=requires_grad)

    def randn_like(t, dtype=None, requires_grad=False, **ignored):
        return lib.tensor(
            shared.rng.standard_normal(tuple(t.shape)), dtype=dtype or t.dtype, requires_grad=requires_grad
        )

    lib.randn, lib.randn_like = randn, randn_like

    def randint(low, high=None, size=None, dtype=None, requires_grad=False, **ignored):
        if size is None:  # randint(high, size): PyTorch's two-argument form
            low, high, size = 0, low, high
        values = shared.rng.integers(low, high, size=tuple(size))
        return lib.tensor(values, dtype=dtype or lib.int64)

    lib.randint = randint

    def masked(x, p, training, mask_shape):
        if not training or p == 0:
            return x
        keep = shared.rng.random(mask_shape) >= p
        scale = np.zeros(mask_shape) if p == 1 else keep / (1.0 - p)
        return x * lib.tensor(scale, dtype=x.dtype)

    def dropout(input, p=0.5, training=True, inplace=False):
        return masked(input, p, training, tuple(input.shape))

    def dropout2d(input, p=0.5, training=True, inplace=False):
        shape = tuple(input.shape)
        # PyTorch: 4-d is (N, C, H, W); anything else is one unbatched sample with channels in dim 0
        mask_shape = (*shape[:2], 1, 1) if len(shape) == 4 else shape[:1] + (1,) * (len(shape) - 1)
        return masked(input, p, training, mask_shape)

    F.dropout, F.dropout2d = dropout, dropout2d
    if hasattr(nn, "Dropout"):
        nn.Dropout.forward = lambda self, input: dropout(input, self.p, self.training)
    if hasattr(nn, "Dropout2d"):
        nn.Dropout2d.forward = lambda self, input: dropout2d(input, self.p, self.training)

    _patch_shuffle(lib, shared)
    _patch_first_call(lib, shared)

    original_item = lib.Tensor.item

    def item(self):
        value = original_item(self)
        if sys._getframe(1).f_code.co_filename == shared.script:  # not the library's own calls
            shared.items.append(float(value))
        return value

    lib.Tensor.item = item


class _SharedOrder:
    """A sampler: each pass is a new permutation of range(n) from the shared generator."""

    def __init__(self, shared, n):
        self.shared, self.n = shared, n

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter(self.shared.rng.permutation(self.n).tolist())


def _patch_shuffle(lib, shared):
    loader_class = lib.utils.data.DataLoader
    original = loader_class.__init__

    def __init__(self, dataset, *args, **kwargs):
        args = list(args)
        if len(args) >= 2:  # DataLoader(dataset, batch_size, shuffle, ...): PyTorch's order
            shuffle, args[1] = args[1], False
        else:
            shuffle = kwargs.get("shuffle")
            kwargs["shuffle"] = False
        if shuffle:
            kwargs["sampler"] = _SharedOrder(shared, len(dataset))
        original(self, dataset, *args, **kwargs)

    loader_class.__init__ = __init__


def _patch_first_call(lib, shared):
    from safetensors.numpy import load_file, save_file

    module_class = lib.nn.Module
    original = module_class.__call__
    writing = shared.writes_weights
    if not writing:
        shared.weights = load_file(str(shared.weights_file)) if shared.weights_file.exists() else {}

    def set_parameters(module=None, named=None):
        for name, p in module.named_parameters() if named is None else named:
            if id(p) in shared.set_ids:
                continue
            shared.set_ids.add(id(p))
            key = f"{len(shared.set_ids) - 1:04d}.{name}"
            shared.parameters.append((key, p))
            if writing:
                shared.weights[key] = np.array(p.detach().cpu().numpy(), dtype=np.float64)
                continue
            if key not in shared.weights:
                raise RuntimeError(
                    f"pytorch_examples: parameter {key} (shape {tuple(p.shape)}) has no value from "
                    f"the PyTorch run; it had {sorted(shared.weights)}"
                )
            values = shared.weights[key]
            if tuple(values.shape) != tuple(p.shape):
                raise RuntimeError(
                    f"pytorch_examples: parameter {key} has shape {tuple(p.shape)}, PyTorch's had {values.shape}"
                )
            p.data = lib.tensor(values, dtype=p.dtype)
        if writing:
            save_file(shared.weights, str(shared.weights_file))

    def __call__(self, *args, **kwargs):
        if id(self) not in shared.called:
            shared.called.add(id(self))
            set_parameters(self)
        return original(self, *args, **kwargs)

    module_class.__call__ = __call__

    # a script may call forward() itself (mnist_forward_forward): its optimizer's parameters are
    # set when the optimizer is made, which is before their first use in the usual script too
    optimizer_class = lib.optim.Optimizer
    original_init = optimizer_class.__init__

    def __init__(self, params, *args, **kwargs):
        original_init(self, params, *args, **kwargs)
        parameters = [p for group in self.param_groups for p in group["params"]]
        set_parameters(named=[(f"optimizer{i}", p) for i, p in enumerate(parameters)])

    optimizer_class.__init__ = __init__


def _write_logs(shared):
    """At exit: the logged .item() values and the final value of every parameter set at first call."""
    from safetensors.numpy import save_file

    shared.items_file.write_text(json.dumps(shared.items))
    final = {key: np.array(np.asarray(p.detach()), dtype=np.float64) for key, p in shared.parameters}
    if final:
        save_file(final, str(shared.items_file.with_name("final.safetensors")))


def _child(options, rest):
    """Run one script (or one style program) under one library, in this process."""
    import atexit
    import importlib.util
    import runpy

    library_name = options.child
    os.environ["HARNESS_LIBRARY"] = library_name
    os.environ["HARNESS_TRAIN_SIZE"], os.environ["HARNESS_TEST_SIZE"] = str(options.train_size), str(options.test_size)
    if library_name == "chainrule":
        sys.modules["torch"] = None  # a missed import fails here instead of running PyTorch
        sys.path.insert(0, str(ROOT))
    sys.path.insert(0, options.standin)
    lib = importlib.import_module(library_name)
    workdir = Path(options.workdir)

    if options.style:
        spec = importlib.util.spec_from_file_location(Path(options.style).stem, options.style)
        program = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(program)
        os.chdir(workdir)
        values = [v if isinstance(v, str) else float(v) for v in _flatten(program.main(lib))]
        (workdir / "items.json").write_text(json.dumps(values))
        return

    lib.set_default_dtype(lib.float64)
    lib.manual_seed(0)  # a script that seeds nothing (regression) starts the same at every harness run
    shared = _Shared(options.role == "first", workdir, options.weights)
    shared.script = options.script
    _install_patches(lib, shared)
    if options.role == "second" and library_name == "torch":  # --against torch: the patches must beat the seed
        seed = lib.manual_seed
        lib.manual_seed = lambda s: seed(s + 1000)
    atexit.register(_write_logs, shared)
    os.chdir(workdir)
    _standin_files(Path(options.script).parent.name, lib)
    sys.argv = [options.script, *rest]
    sys.path.insert(0, str(Path(options.script).parent))
    runpy.run_path(options.script, run_name="__main__")


def _standin_files(example, lib):
    """The data files a script reads from its working directory, the same values in both runs."""
    generator = np.random.default_rng(4)
    if example == "time_sequence_prediction":
        # generate_sine_wave.py's waves (period 2 pi T, random phase), 5 of length 60: the script
        # loads them with torch.load, so each library writes its own file format
        T, L, N = 20, 60, 5
        x = np.arange(L) + generator.integers(-4 * T, 4 * T, N).reshape(N, 1)
        lib.save(np.sin(x / 1.0 / T).astype("float64"), "traindata.pt")
        if lib.__name__ == "torch":  # PyTorch >= 2.6 loads only tensors by default: the script
            load = lib.load  # predates that, and its file holds a NumPy array

            lib.load = lambda f, *args, **kwargs: load(f, *args, **{"weights_only": False, **kwargs})
    elif example == "word_language_model":
        folder = Path("data/wikitext-2")
        folder.mkdir(parents=True, exist_ok=True)
        vocabulary = [f"w{i}" for i in range(50)]
        for part, lines in (("train", 40), ("valid", 12), ("test", 12)):
            text = "".join(" ".join(generator.choice(vocabulary, 7)) + "\n" for _ in range(lines))
            (folder / f"{part}.txt").write_text(text)


def _flatten(value):
    """The numbers and strings in a nested result (dicts by sorted key, sequences, arrays, tensors)."""
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _flatten(value[key])
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _flatten(v)
    elif isinstance(value, (bool, int, float, str, np.number)):
        yield value
    else:
        yield from np.asarray(value.detach() if hasattr(value, "detach") else value, dtype=np.float64).ravel()


# ----------------------------------------------------------------------- in the parent: run, compare


def _run(library_name, role, script, flags, folder, options, style=None):
    """Start one child; its exit code, stdout, stderr and the logged values."""
    workdir = folder / role
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        library_name,
        "--role",
        role,
        "--workdir",
        str(workdir),
        "--standin",
        str(folder.parent / "standin"),
        "--weights",
        str(folder / "initial.safetensors"),
        "--train-size",
        str(options.train_size),
        "--test-size",
        str(options.test_size),
    ]
    command += ["--style", str(style)] if style else ["--script", str(script), "--", *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=options.timeout)
    from safetensors.numpy import load_file

    items_file, final_file = workdir / "items.json", workdir / "final.safetensors"
    items = json.loads(items_file.read_text()) if items_file.exists() else []
    final = load_file(str(final_file)) if final_file.exists() else {}
    # a script that prints a path in its working directory prints the same text in both runs
    stdout = done.stdout.replace(str(workdir.resolve()), "<workdir>").replace(str(workdir), "<workdir>")
    return done.returncode, stdout, done.stderr, items, final


def relative_difference(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|), 0 when both are 0 (nan against anything but nan: inf).

    >>> relative_difference(1.0, 1.0 + 1e-9) < 1e-8, relative_difference(0.0, 0.0)
    (True, 0.0)
    """
    if np.isnan(a) or np.isnan(b):
        return 0.0 if np.isnan(a) and np.isnan(b) else float("inf")
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def compare_outputs(out_torch: str, out_chainrule: str):
    """Max relative difference of the numbers printed line by line, and the first mismatch (None).

    Text between the numbers must be equal, and so must integers (counts, batch numbers). Two
    printed decimals one unit of their last digit apart count as equal (the true values may
    straddle a rounding boundary); the logged .item() values are compared at full precision.
    >>> compare_outputs("Loss: 2.302600 [64/256]", "Loss: 2.302601 [64/256]")
    (0.0, None)
    >>> compare_outputs("after 229 batches", "after 230 batches")[1]
    "line 1: 'after 229 batches' against 'after 230 batches'"
    >>> compare_outputs("Loss: 2.302600", "Loss: 2.302800")
    (8.68...e-05, None)
    >>> compare_outputs("Using cpu", "Using cpu:0")[1]
    "line 1: 'Using cpu' against 'Using cpu:0'"
    """
    lines_t, lines_c = out_torch.splitlines(), out_chainrule.splitlines()
    if len(lines_t) != len(lines_c):
        return float("inf"), f"{len(lines_t)} lines printed against {len(lines_c)}"
    worst = 0.0
    for number, (a, b) in enumerate(zip(lines_t, lines_c), 1):
        if NUMBER.split(a) != NUMBER.split(b):
            return float("inf"), f"line {number}: {a!r} against {b!r}"
        for x, y in zip(NUMBER.findall(a), NUMBER.findall(b)):
            if x != y and not any(c in x.lower() for c in ".e"):
                return float("inf"), f"line {number}: {a!r} against {b!r}"
            mantissa = x.lower().split("e")[0]
            unit = 10.0 ** -len(mantissa.split(".")[1]) if "." in mantissa else 1.0
            if "e" in x.lower():
                unit *= 10.0 ** int(x.lower().split("e")[1])
            if abs(float(x) - float(y)) > unit * 1.000001:
                worst = max(worst, relative_difference(float(x), float(y)))
    return worst, None


def _first_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1][:100] if lines else "failed (no message)"


def compare_runs(name, run_torch, run_chainrule, rtol):
    """One row of the table: (name, torch status, chainrule status, values compared, their max
    relative difference, final weight tensors compared, their max relative difference, ok).

    A weight tensor's difference is max|a - b| / max|a|, so entries near zero do not dominate.
    """
    (rc_t, out_t, err_t, items_t, final_t), (rc_c, out_c, err_c, items_c, final_c) = run_torch, run_chainrule
    status_t = "ok" if rc_t == 0 else _first_error(err_t)
    status_c = "ok" if rc_c == 0 else _first_error(err_c)
    if rc_t or rc_c:
        return name, status_t, status_c, 0, float("nan"), 0, float("nan"), False
    worst_weights = 0.0
    for key in sorted(set(final_t) | set(final_c)):
        a, b = final_t.get(key), final_c.get(key)
        if a is None or b is None or a.shape != b.shape:
            worst_weights = float("inf")
            continue
        scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
        worst_weights = max(worst_weights, 0.0 if scale == 0 else float(np.abs(a - b).max() / scale))
    worst, mismatch = compare_outputs(out_t, out_c)
    if len(items_t) != len(items_c):
        mismatch = mismatch or f".item() called {len(items_t)} times against {len(items_c)}"
        worst = float("inf")
    for a, b in zip(items_t, items_c):
        if isinstance(a, str) or isinstance(b, str):  # a style program's formatted text
            mismatch = mismatch or (None if a == b else f"{a!r} against {b!r}")
            continue
        worst = max(worst, relative_difference(a, b))
    if mismatch:
        status_c = f"differs: {mismatch}"[:100]
    ok = mismatch is None and worst <= rtol and worst_weights <= rtol
    return name, status_t, status_c, len(items_t), worst, len(final_t), worst_weights, ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", help="a checkout of https://github.com/pytorch/examples")
    parser.add_argument(
        "--only",
        help=f"comma-separated subset of {','.join(SCRIPTS)},style (default: all) "
        f"or of {','.join(MORE_SCRIPTS)} (all four: more)",
    )
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--test-size", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    parser.add_argument("--keep", help="a folder to keep the runs' outputs in (default: a temporary one)")
    parser.add_argument("--verbose", action="store_true", help="print each run's output")
    parser.add_argument(
        "--against",
        choices=["chainrule", "torch"],
        default="chainrule",
        help="the second run's library; 'torch' checks the harness itself: PyTorch against "
        "PyTorch seeded differently must agree to the last bit through the patches alone",
    )
    # the child's own options (this file starts itself)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    for name in ("--role", "--workdir", "--standin", "--weights", "--script", "--style"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    argv = sys.argv[1:] if argv is None else argv
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    options = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if options.child:
        return _child(options, rest)

    wanted = options.only.split(",") if options.only else [*SCRIPTS, "style"]
    wanted = [w for name in wanted for w in (MORE_SCRIPTS if name == "more" else [name])]
    unknown = [w for w in wanted if w not in SCRIPTS and w not in MORE_SCRIPTS and w != "style"]
    if unknown:
        parser.error(f"--only: unknown {unknown}; choose from {[*SCRIPTS, *MORE_SCRIPTS, 'more', 'style']}")
    if options.examples is None:
        wanted = [w for w in wanted if w == "style"]
        print("no --examples DIR given: running only our script-style programs (tests/pytorch_style)")
    jobs = []
    for name in wanted:
        if name == "style":
            jobs += [
                (f"style/{p.stem.removeprefix('style_')}", None, [], p)
                for p in sorted(STYLE_DIR.glob("*.py"))
                if not p.name.startswith("_")
            ]
        else:
            path, flags = SCRIPTS[name] if name in SCRIPTS else MORE_SCRIPTS[name]
            script = Path(options.examples) / path
            if not script.exists():
                parser.error(f"--examples: {script} does not exist (git clone https://github.com/pytorch/examples)")
            jobs.append((name, script, flags, None))

    with tempfile.TemporaryDirectory(prefix="pytorch_examples_") as temporary:
        base = Path(options.keep or temporary)
        for relative, text in STANDIN.items():
            (base / "standin" / relative).parent.mkdir(parents=True, exist_ok=True)
            (base / "standin" / relative).write_text(text)
        rows = []
        for name, script, flags, style in jobs:
            folder = base / name.replace("/", "_")
            folder.mkdir(parents=True, exist_ok=True)
            second = script
            if script is not None and options.against == "chainrule":
                second = folder / "swapped" / script.parent.name / script.name
                second.parent.mkdir(parents=True, exist_ok=True)
                for source in script.parent.glob("*.py"):  # the script and the modules it imports
                    (second.parent / source.name).write_text(swap_imports(source.read_text()))
            run_t = _run("torch", "first", script, flags, folder, options, style)
            run_c = _run(options.against, "second", second, flags, folder, options, style)
            if options.verbose:
                for library_name, run in (("torch", run_t), (options.against, run_c)):
                    print(f"--- {name} under {library_name} (exit {run[0]})\n{run[1]}{run[2]}")
            rows.append(compare_runs(name, run_t, run_c, options.rtol))
            print(f"{name}: done", file=sys.stderr, flush=True)

    print(
        f"\n{'script':20s} {'torch':10s} {options.against:36s} {'values':>6s} {'max rel diff':>12s} "
        f"{'weights':>7s} {'max rel diff':>12s}"
    )
    for name, status_t, status_c, count, worst, tensors, worst_weights, _ in rows:
        print(
            f"{name:20s} {status_t[:10]:10s} {status_c[:36]:36s} {count:6d} {worst:12.3g} "
            f"{tensors:7d} {worst_weights:12.3g}"
        )
        for status in (status_t, status_c):
            if len(status) > 10 and status != "ok":
                print(f"    {status}")
    failed = [row[0] for row in rows if not row[-1]]
    print(
        f"\n{len(rows) - len(failed)}/{len(rows)} ran and matched within rtol {options.rtol:g}"
        + (f"; failed or differ: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
