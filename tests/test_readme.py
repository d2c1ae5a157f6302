"""The README's examples run and say what they claim."""

import doctest
import itertools
import re
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _example_code():
    source = (ROOT / "examples" / "xor_tensors.py").read_text()
    return source.split('"""', 2)[2].strip()  # the program without its docstring


def test_readme_quick_start_is_the_demo_program():
    block = re.search(r"## Quick start.*?```python\n(.*?)```", README, re.S).group(1).strip()
    assert block == _example_code()


def test_xor_demo_learns_xor(capsys):
    runpy.run_path(str(ROOT / "examples" / "xor_tensors.py"), run_name="__main__")
    out = capsys.readouterr().out
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", out)]
    assert losses[0] > 0.2 and losses[-1] < 0.01
    assert all(a >= b for a, b in itertools.pairwise(losses))
    predictions = [float(v) for v in re.search(r"predictions: \[(.*)\]", out).group(1).split()]
    assert [round(p) for p in predictions] == [0, 1, 1, 0]


def test_readme_doctests():
    parser = doctest.DocTestParser()
    test = parser.get_doctest(README, {}, "README.md", str(ROOT / "README.md"), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert test.examples and runner.failures == 0


def test_every_python_block_in_the_readme_runs(capsys):
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if not b.startswith(">>>")]
    assert len(blocks) >= 2  # (the >>> blocks run as doctests above)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    assert "predictions:" in capsys.readouterr().out
