"""The command line's errors: every flag checked at parse time, bad input files named by line and
column, filesystem failures as one line and a non-zero exit, output files never left cut off.
In-process (cli.main), so that a full or read-only disk can be simulated."""

import errno
import json
import os

import numpy as np
import pytest

from chainrule import cli, serialization
from chainrule.data import digits
from chainrule.serialization import load

TINY = ["--data", "digits", "--hidden", "8", "--epochs", "2", "--quiet"]


def run_cli(capsys, *args):
    """``(exit status, stdout, stderr)`` of ``chainrule ARGS``; argparse's exits included."""
    capsys.readouterr()
    try:
        status = cli.main([str(a) for a in args])
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(err, *fragments):
    lines = err.strip().splitlines()
    assert "Traceback" not in err
    assert lines[-1].startswith("chainrule ") and ": error: " in lines[-1], err
    for fragment in fragments:
        assert fragment in lines[-1], err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main(["train", *TINY, "--run-dir", str(run)]) == 0
    return run


@pytest.fixture
def features(tmp_path):
    X, _ = digits()
    path = tmp_path / "in.csv"
    np.savetxt(path, X[:5], delimiter=",", header=",".join(f"p{i}" for i in range(64)), comments="")
    return path


# -- flags ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--lr", "inf"], "argument --lr: expected a finite number > 0, got inf"),
        (["train", "--lr", "nan"], "argument --lr: expected a finite number > 0, got nan"),
        (["train", "--lr", "0"], "argument --lr: expected a number > 0, got 0.0"),
        (["train", "--lr", "fast"], "argument --lr: expected a number > 0, got 'fast'"),
        (["train", "--momentum", "1.5"], "argument --momentum: expected a number in [0, 1), got 1.5"),
        (["train", "--weight-decay", "-1"], "argument --weight-decay: expected a number >= 0"),
        (["train", "--weight-decay", "inf"], "argument --weight-decay: expected a finite number >= 0"),
        (["train", "--grad-clip", "0"], "argument --grad-clip: expected a number > 0"),
        (["train", "--grad-clip", "nan"], "argument --grad-clip: expected a finite number > 0"),
        (["train", "--dropout", "1"], "argument --dropout: expected a number in [0, 1), got 1.0"),
        (["train", "--val-fraction", "-0.1"], "argument --val-fraction: expected a number in [0, 1)"),
        (["train", "--test-fraction", "1"], "argument --test-fraction: expected a number in [0, 1)"),
        (["train", "--epochs", "2.5"], "argument --epochs: expected an integer in [1, 1000000], got '2.5'"),
        (["train", "--epochs", "0"], "argument --epochs: expected an integer in [1, 1000000], got 0"),
        (["train", "--batch-size", "0"], "argument --batch-size: expected an integer in [1, 1048576]"),
        (["train", "--restarts", "0"], "argument --restarts: expected an integer in [1, 1000]"),
        (["train", "--early-stopping", "0"], "argument --early-stopping: expected an integer in [1, 1000000]"),
        (["train", "--seed", "-1"], "argument --seed: expected an integer in [0, 4294967295]"),
        (["train", "--hidden", "100000000"], "argument --hidden: expected positive widths"),
        (["train", "--hidden", "0"], "argument --hidden: expected positive widths"),
        (["gradcheck", "--batch", "0"], "argument --batch: expected an integer in [1, 1000], got 0"),
        (["compare", "--test-fraction", "0"], "argument --test-fraction: expected a number in (0, 1)"),
        (["search", "--cv", "1"], "argument --cv: expected an integer in [2, 100]"),
        (["search", "--lr", "0.1", "inf"], "argument --lr: expected a finite number > 0"),
        (["explain", "--hidden", "0"], "argument --hidden: expected an integer in [1, 16]"),
        (["explain", "--lr", "inf"], "argument --lr: expected a finite number > 0"),
    ],
)
def test_every_numeric_flag_is_checked_at_parse_time(capsys, args, message):
    status, _, err = run_cli(capsys, *args)
    assert status == 2
    assert_one_line_error(err, message)


def test_a_parameter_count_beyond_the_bound_is_refused_before_allocating(capsys):
    status, _, err = run_cli(capsys, "train", "--hidden", "60000,60000", "--epochs", "1")
    assert status == 2
    assert_one_line_error(err, "--hidden 60000,60000: this mlp would have about 3,604,", "more than the 100,000,000")


def test_resume_refuses_the_flags_it_would_ignore(capsys, finished):
    status, _, err = run_cli(capsys, "train", "--resume", finished, "--lr", "0.5")
    assert status == 2
    assert_one_line_error(err, "--resume reuses the run's config.json; it takes only --epochs and --quiet, got --lr")


def test_diverged_training_is_a_failure_not_a_success(tmp_path, capsys):
    status, out, err = run_cli(capsys, "train", *TINY, "--optimizer", "sgd", "--lr", "1e4", "--run-dir",
                               tmp_path / "r")
    assert status == 1
    assert_one_line_error(err, "training diverged: the loss became non-finite")
    assert "run folder:" in out  # the folder is still written, for a look at what happened


# -- data sets too small, test sets left out --------------------------------------------------------------
def test_xor_trains_and_tests_on_its_four_points_and_says_so(tmp_path, capsys):
    status, out, _ = run_cli(capsys, "train", "--data", "xor", "--hidden", "4", "--epochs", "2", "--quiet",
                             "--run-dir", tmp_path / "x")
    assert status == 0
    assert "note: xor has 4 samples, too few to hold out a test set" in out
    results = json.loads((tmp_path / "x" / "results.json").read_text())
    assert results["test"]["test_accuracy"] in (0.0, 0.25, 0.5, 0.75, 1.0) and results["notes"]
    status, out, _ = run_cli(capsys, "evaluate", tmp_path / "x")
    assert status == 0 and f"test_accuracy {results['test']['test_accuracy']:.4f}" in out


def test_compare_refuses_a_data_set_too_small_to_hold_out(capsys):
    pytest.importorskip("sklearn")
    status, _, err = run_cli(capsys, "compare", "--data", "xor", "--hidden", "4", "--epochs", "1")
    assert status == 2
    assert_one_line_error(err, "compare: xor has 4 samples, too few to compare learners on held-out data")


def test_test_fraction_zero_means_no_test_set(tmp_path, capsys):
    status, out, _ = run_cli(capsys, "train", *TINY, "--test-fraction", "0", "--run-dir", tmp_path / "r")
    assert status == 0 and "test: none (--test-fraction 0)" in out
    assert json.loads((tmp_path / "r" / "results.json").read_text())["test"] is None
    status, _, err = run_cli(capsys, "evaluate", tmp_path / "r")
    assert status == 2
    assert_one_line_error(err, "has no test set: it was trained with --test-fraction 0")


def test_gradcheck_that_checks_nothing_fails(capsys, monkeypatch):
    from chainrule import runs

    with pytest.raises(ValueError, match=r"--batch: expected an integer in \[1, 1000\], got 0"):
        runs.gradcheck_architecture(runs.RunConfig(hidden=(3,)), batch=0)
    monkeypatch.setattr(runs, "gradcheck_architecture", lambda config, batch: [])
    status, out, err = run_cli(capsys, "gradcheck")
    assert status == 1 and "gradients agree" not in out
    assert_one_line_error(err, "nothing was checked")


def test_gradcheck_refuses_an_architecture_too_big_for_finite_differences(capsys):
    status, _, err = run_cli(capsys, "gradcheck", "--hidden", "512,512")
    assert status == 2
    assert_one_line_error(err, "finite differences check at most 20,000")


# -- input files ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("row", "message"),
    [("nan", "line 3, column 2: 'nan', not a finite number"), ("inf", "line 3, column 2: 'inf', not a finite"),
     ("-Infinity", "line 3, column 2: '-Infinity'"), ("", "line 3, column 2: an empty cell"),
     ("x", "line 3, column 2: 'x', not a finite number")],
)
def test_predict_refuses_non_finite_rows(tmp_path, finished, features, capsys, row, message):
    lines = features.read_text().splitlines()
    cells = lines[2].split(",")
    cells[1] = row
    lines[2] = ",".join(cells)
    features.write_text("\n".join(lines) + "\n")
    status, _, err = run_cli(capsys, "predict", finished, "--input", features, "--output", tmp_path / "out.csv")
    assert status == 2
    assert_one_line_error(err, f"--input {features}: {message}")
    assert not (tmp_path / "out.csv").exists()


def test_predict_refuses_values_beyond_float32(finished):
    from chainrule.runs import predict_run

    X = digits()[0][:3].astype(np.float64)
    X[1, 4] = 1e39
    with pytest.raises(ValueError, match=r"row 2, column 5 of the input is inf"):
        predict_run(finished, X)


def test_a_non_utf8_byte_names_the_line_and_encoding_reads_it(tmp_path, finished, capsys):
    X = digits()[0]
    path = tmp_path / "latin.csv"
    body = "\n".join(",".join(str(v) for v in row) for row in X[:3])
    path.write_bytes(("caf\u00e9," + ",".join(f"p{i}" for i in range(63)) + "\n" + body + "\n").encode("latin-1"))
    status, _, err = run_cli(capsys, "predict", finished, "--input", path, "--output", tmp_path / "o.csv")
    assert status == 2
    assert_one_line_error(err, f"--input {path}: line 1: byte 0xe9 is not utf-8-sig text", "--encoding")
    status, out, _ = run_cli(capsys, "predict", finished, "--input", path, "--output", tmp_path / "o.csv",
                             "--encoding", "latin-1")
    assert status == 0 and "wrote 3 predictions" in out
    status, _, err = run_cli(capsys, "predict", finished, "--input", path, "--output", tmp_path / "o.csv",
                             "--encoding", "klingon")
    assert status == 2
    assert_one_line_error(err, "--encoding: unknown text encoding 'klingon'")


def test_training_data_with_non_finite_values_is_refused(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b,label\n1,2,0\n3,nan,1\n2,2,0\n4,4,1\n")
    status, _, err = run_cli(capsys, "train", "--data", "csv", "--data-path", path, "--label-column", "label",
                             "--run-dir", tmp_path / "r", "--quiet")
    assert status == 2
    assert_one_line_error(err, f"csv: column 'b', row 2 (line 3) of {path}: nan")
    assert not (tmp_path / "r").exists()  # refused before anything was written


# -- the filesystem ---------------------------------------------------------------------------------------
def test_a_run_folder_below_a_file_or_naming_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    status, _, err = run_cli(capsys, "train", *TINY, "--run-dir", tmp_path / "file" / "run")
    assert status == 2
    assert_one_line_error(err, f"--run-dir {tmp_path / 'file' / 'run'}: {tmp_path / 'file'} is a file, not a folder")
    status, _, err = run_cli(capsys, "train", *TINY, "--run-dir", tmp_path / "file")
    assert status == 2
    assert_one_line_error(err, f"--run-dir {tmp_path / 'file'}: is a file, not a folder")
    for command in (["evaluate"], ["train", "--resume"]):
        status, _, err = run_cli(capsys, *command, tmp_path / "file")
        assert status == 2
        assert_one_line_error(err, f"{tmp_path / 'file'} is not a run folder: a file")


def test_predict_output_below_a_file_or_naming_a_folder(tmp_path, finished, features, capsys):
    (tmp_path / "file").write_text("x")
    status, _, err = run_cli(capsys, "predict", finished, "--input", features, "--output", tmp_path / "file" / "o.csv")
    assert status == 2
    assert_one_line_error(err, f"--output {tmp_path / 'file' / 'o.csv'}: {tmp_path / 'file'} is a file, not a folder")
    status, _, err = run_cli(capsys, "predict", finished, "--input", features, "--output", tmp_path)
    assert status == 2
    assert_one_line_error(err, f"--output {tmp_path}: is a folder; expected a file name")


def _disk_full(*args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_predict_on_a_full_disk_keeps_the_previous_file(tmp_path, finished, features, capsys, monkeypatch):
    output = tmp_path / "out.csv"
    assert run_cli(capsys, "predict", finished, "--input", features, "--output", output)[0] == 0
    before = output.read_bytes()
    monkeypatch.setattr(os, "fsync", _disk_full)
    status, _, err = run_cli(capsys, "predict", finished, "--input", features, "--output", output)
    assert status == 1
    assert_one_line_error(err, f"cannot write {output}: No space left on device")
    assert output.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]  # no temporary left


def test_a_full_disk_stops_a_run_with_one_line_and_the_run_resumes(tmp_path, capsys, monkeypatch):
    run, whole = tmp_path / "run", tmp_path / "whole"
    assert run_cli(capsys, "train", *TINY, "--epochs", "4", "--run-dir", whole)[0] == 0
    assert run_cli(capsys, "train", *TINY, "--run-dir", run)[0] == 0
    with monkeypatch.context() as patch:  # every write fails: the first is the preprocessing statistics
        patch.setattr(os, "fsync", _disk_full)
        status, _, err = run_cli(capsys, "train", "--resume", run, "--epochs", "4")
    assert status == 1
    assert_one_line_error(err, f"cannot write {run / 'preprocessing.safetensors'}: No space left on device")

    write_atomic = serialization.write_atomic

    def checkpoint_fails(path, data):
        if os.path.basename(path) == "checkpoint.safetensors":
            _disk_full()
        write_atomic(path, data)

    with monkeypatch.context() as patch:  # the disk fills up during training
        patch.setattr(serialization, "write_atomic", checkpoint_fails)
        status, _, err = run_cli(capsys, "train", "--resume", run, "--epochs", "4")
    assert status == 1
    assert_one_line_error(err, f"cannot write {run / 'checkpoint.safetensors'}: No space left on device")
    assert run_cli(capsys, "train", "--resume", run, "--epochs", "4", "--quiet")[0] == 0
    for name, value in load(whole / "model.safetensors").items():
        assert np.array_equal(load(run / "model.safetensors")[name], value)


def test_a_read_only_run_folder_is_one_line(tmp_path, finished, features, capsys, monkeypatch):
    def read_only(path, data):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(serialization, "write_atomic", read_only)
    status, _, err = run_cli(capsys, "train", *TINY, "--run-dir", tmp_path / "r")
    assert status == 1
    assert_one_line_error(err, f"cannot write {tmp_path / 'r'}/", "Read-only file system")
    status, _, err = run_cli(capsys, "predict", finished, "--input", features, "--output", tmp_path / "o.csv")
    assert status == 1
    assert_one_line_error(err, f"cannot write {tmp_path / 'o.csv'}: Read-only file system")


def test_an_unreadable_input_is_one_line(tmp_path, finished, features, capsys, monkeypatch):
    from pathlib import Path

    def denied(self):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    status, _, err = run_cli(capsys, "predict", finished, "--input", features, "--output", tmp_path / "o.csv")
    assert status == 1
    assert_one_line_error(err, "Permission denied")


def test_compare_writes_its_chart_atomically(tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    chart = tmp_path / "bars.png"
    chart.write_bytes(b"the previous chart")
    monkeypatch.setattr(os, "fsync", _disk_full)
    status, _, err = run_cli(capsys, "compare", "--data", "moons", "--hidden", "4", "--epochs", "1", "--plot", chart)
    assert status == 1
    assert_one_line_error(err, f"cannot write {chart}: No space left on device")
    assert chart.read_bytes() == b"the previous chart"


def test_run_plots_are_replaced_atomically(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    assert run_cli(capsys, "train", *TINY, "--run-dir", run)[0] == 0
    before = (run / "loss_curve.png").read_bytes()
    write_atomic = serialization.write_atomic

    def plot_fails(path, data):
        if os.path.basename(path) == "loss_curve.png":
            _disk_full()
        write_atomic(path, data)

    monkeypatch.setattr(serialization, "write_atomic", plot_fails)
    status, _, err = run_cli(capsys, "train", "--resume", run)  # a finished run: rewrites its outputs
    assert status == 1
    assert_one_line_error(err, f"cannot write {run / 'loss_curve.png'}: No space left on device")
    assert (run / "loss_curve.png").read_bytes() == before
    assert not (run / "results.json").exists()  # not finished until its outputs are all written
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]


def test_training_csv_in_another_encoding(tmp_path, capsys):
    rng = np.random.default_rng(0)
    coffee, tea = "caf\u00e9", "th\u00e9"
    rows = [f"{a:.3f},{b:.3f},{coffee if a + b > 0 else tea}" for a, b in rng.standard_normal((40, 2))]
    path = tmp_path / "drinks.csv"
    path.write_bytes(("a,b,drink\n" + "\n".join(rows) + "\n").encode("latin-1"))
    flags = ["--data", "csv", "--data-path", path, "--label-column", "drink", "--hidden", "4", "--epochs", "1",
             "--quiet"]
    status, _, err = run_cli(capsys, "train", *flags, "--run-dir", tmp_path / "r")
    assert status == 2
    assert_one_line_error(err, str(path), "line 2")
    status, _, err = run_cli(capsys, "train", *flags, "--encoding", "klingon", "--run-dir", tmp_path / "r")
    assert status == 2
    assert_one_line_error(err, "--encoding: expected a text encoding such as utf-8 or latin-1, got 'klingon'")
    assert run_cli(capsys, "train", *flags, "--encoding", "latin-1", "--run-dir", tmp_path / "r")[0] == 0
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["encoding"] == "latin-1" and config["classes"] == ["caf\u00e9", "th\u00e9"]
    assert run_cli(capsys, "evaluate", tmp_path / "r")[0] == 0  # the run reads its data as it was trained


def test_encoding_is_only_for_csv_and_older_run_folders_lack_it(tmp_path, finished, capsys):
    status, _, err = run_cli(capsys, "train", *TINY, "--encoding", "latin-1")
    assert status == 2
    assert_one_line_error(err, "--encoding latin-1: only --data csv reads text; digits does not")
    old = tmp_path / "old"
    old.mkdir()
    for path in finished.iterdir():
        (old / path.name).write_bytes(path.read_bytes())
    config = json.loads((old / "config.json").read_text())
    del config["encoding"]
    (old / "config.json").write_text(json.dumps(config))
    assert run_cli(capsys, "evaluate", old)[0] == 0


def test_a_run_is_not_resumed_or_evaluated_on_changed_data(tmp_path, capsys):
    path = tmp_path / "data.csv"
    rows = [f"{i % 7},{i % 5},{i % 2}" for i in range(40)]
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    flags = ["--data", "csv", "--data-path", path, "--label-column", "label", "--hidden", "4", "--epochs", "1",
             "--quiet", "--run-dir", tmp_path / "r"]
    assert run_cli(capsys, "train", *flags)[0] == 0
    path.write_text("a,b,label\n" + "\n".join(rows[::-1]) + "\n")  # the same rows in another order
    for command in (["evaluate", tmp_path / "r"], ["train", "--resume", tmp_path / "r", "--epochs", "2"]):
        status, _, err = run_cli(capsys, *command)
        assert status == 2
        assert_one_line_error(err, "config.json: the data set is not the one this run was trained on")


def test_a_first_row_of_bad_numbers_is_refused_not_taken_for_a_header(tmp_path, finished, capsys):
    X = digits()[0][:3]
    rows = [",".join(str(v) for v in row) for row in X]
    for first, message in (("nan", "line 1, column 1: 'nan', not a finite number"), ("", "line 1, column 1: an empty")):
        path = tmp_path / "no-header.csv"
        path.write_text("\n".join([first + rows[0][rows[0].index(","):], *rows[1:]]) + "\n")
        status, _, err = run_cli(capsys, "predict", finished, "--input", path, "--output", tmp_path / "o.csv")
        assert status == 2
        assert_one_line_error(err, f"--input {path}: {message}")
    numbered = tmp_path / "numbered.csv"  # a header of column numbers looks like data: --header says which
    numbered.write_text("\n".join([",".join(str(i) for i in range(64)), *rows]) + "\n")
    status, out, _ = run_cli(capsys, "predict", finished, "--input", numbered, "--output", tmp_path / "o.csv")
    assert status == 0 and "wrote 4 predictions" in out
    status, out, _ = run_cli(capsys, "predict", finished, "--input", numbered, "--output", tmp_path / "o.csv",
                             "--header", "yes")
    assert status == 0 and "wrote 3 predictions" in out


def test_a_reader_that_stops_reading_is_not_an_error():
    """`chainrule explain | head`: the pipe closes before the text is written; the command ends
    quietly with the shell's status for it (141), not with an error line or a traceback."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-m", "chainrule", "explain"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    child.stdout.close()  # the reader leaves before the first line
    _, err = child.communicate(timeout=120)
    assert child.returncode == 141, err
    assert err == b""
