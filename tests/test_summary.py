"""chainrule.summary: output shapes against a plain forward pass, parameter counts by hand, the
trainable flags of frozen layers, the memory lines, and `chainrule summary RUN`."""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.cli import main
from chainrule.models import SequenceClassifier, cnn


def table_row(text, name):
    """The cells of the table line naming module ``name`` (e.g. "0 (Linear)")."""
    line = next(line for line in text.splitlines() if line.strip().startswith(name))
    return re.split(r"\s{2,}", line.strip())


def test_mlp_shapes_follow_a_forward_pass_and_counts_are_hand_counted():
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    stats = cr.summary(model, (64, 784), verbose=0)
    x = cr.randn(64, 784)
    hidden = model[1](model[0](x))
    assert stats.row("0").output_shape == tuple(model[0](x).shape) == (64, 128)
    assert stats.row("1").output_shape == tuple(hidden.shape)
    assert stats.row("2").output_shape == tuple(model(x).shape) == (64, 10)
    assert stats.row("").output_shape == (64, 10)
    assert stats.row("0").params == 784 * 128 + 128
    assert stats.row("2").params == 128 * 10 + 10
    assert stats.total_params == stats.trainable_params == 101_770 and stats.non_trainable_params == 0
    # float32: 4 bytes a number; gradients as many as the trainable parameters
    assert stats.param_bytes == stats.grad_bytes == 4 * 101_770
    assert stats.input_bytes == 4 * 64 * 784
    assert stats.activation_bytes == 4 * 64 * (128 + 128 + 10)  # Linear, ReLU, Linear outputs
    assert stats.param_mb == pytest.approx(0.40708)
    text = str(stats)
    assert table_row(text, "0 (Linear)") == ["0 (Linear)", "[64, 128]", "100,480", "yes"]
    assert table_row(text, "1 (ReLU)") == ["1 (ReLU)", "[64, 128]", "--", "--"]
    assert "Total params: 101,770" in text and "Trainable params: 101,770" in text
    assert "Parameters size (MB): 0.41" in text and "Gradients size (MB): 0.41" in text
    assert "Forward activations size (MB): 0.068" in text  # 68,096 bytes


def test_cnn_shapes_and_counts():
    model = cnn((1, 8, 8), 10, channels=(4, 8))
    stats = cr.summary(model, (16, 1, 8, 8), verbose=0)
    x = cr.randn(16, 1, 8, 8)
    for name, layer in model.named_children():
        x = layer(x)
        assert stats.row(name).output_shape == tuple(x.shape), name
    assert [r.output_shape for r in stats.rows if r.type == "MaxPool2d"] == [(16, 4, 4, 4), (16, 8, 2, 2)]
    conv1, conv2, linear = 1 * 4 * 9 + 4, 4 * 8 * 9 + 8, 8 * 2 * 2 * 10 + 10
    assert [r.params for r in stats.rows if r.depth == 1 and r.params] == [conv1, conv2, linear]
    assert stats.total_params == conv1 + conv2 + linear == model.num_parameters()


def test_lstm_tuple_output_and_nested_module():
    model = SequenceClassifier("lstm", 3, 8, 5, num_layers=2)
    stats = cr.summary(model, (2, 7, 3), verbose=0)
    out, (h, c) = model.rnn(cr.randn(2, 7, 3))
    assert stats.row("rnn").output_shape == [tuple(out.shape), [tuple(h.shape), tuple(c.shape)]]
    assert stats.row("rnn").output_shape == [(2, 7, 8), [(2, 2, 8), (2, 2, 8)]]
    # two layers of four gates: W_ih (32 x in), W_hh (32 x 8), two biases of 32
    lstm = 32 * 3 + 32 * 8 + 64 + 32 * 8 + 32 * 8 + 64
    assert stats.row("rnn").params == lstm and stats.row("head").params == 8 * 5 + 5
    assert stats.activation_bytes == 4 * (2 * 7 * 8 + 2 * 2 * 2 * 8 + 2 * 5)
    assert table_row(str(stats), "rnn (LSTM)")[1] == "([2, 7, 8], ([2, 2, 8], [2, 2, 8]))"
    verbose = cr.summary(model, (2, 7, 3), verbose=0)
    verbose.verbose = 2
    assert table_row(str(verbose), "weight_hh_l1") == ["weight_hh_l1", "[32, 8]", "256", "yes"]


def test_frozen_layer_nested_sequential_and_depth():
    model = nn.Sequential(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), nn.Linear(4, 2))
    model[0][0].requires_grad_(False)
    stats = cr.summary(model, (5, 3), verbose=0)
    assert [(r.name, r.depth) for r in stats.rows] == [("", 0), ("0", 1), ("0.0", 2), ("0.1", 2), ("1", 1)]
    assert stats.row("0.0").trainable == "no" and stats.row("1").trainable == "yes"
    assert stats.row("").trainable == "partial" and stats.row("0.1").trainable == "--"
    assert (stats.total_params, stats.trainable_params, stats.non_trainable_params) == (26, 10, 16)
    assert stats.grad_bytes == 4 * 10  # a frozen layer gets no gradient
    text = str(stats)
    # the nested Sequential's parameters are counted on its Linear, once
    assert table_row(text, "0 (Sequential)") == ["0 (Sequential)", "[5, 4]", "--", "no"]
    assert table_row(text, "0.0 (Linear)") == ["0.0 (Linear)", "[5, 4]", "16", "no"]
    shallow = str(cr.summary(model, (5, 3), depth=1, verbose=0))
    assert "0.0 (Linear)" not in shallow
    assert table_row(shallow, "0 (Sequential)") == ["0 (Sequential)", "[5, 4]", "16", "no"]


def test_the_column_adds_up_and_nothing_is_changed():
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.5), nn.Linear(6, 3))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    state = cr.get_rng_state()
    stats = cr.summary(model, (8, 4), verbose=0)
    assert model.training and all(m.training for m in model.modules())  # eval for the pass, then restored
    assert all(np.array_equal(before[k], v.numpy()) for k, v in model.state_dict().items())  # running stats untouched
    assert np.array_equal(cr.get_rng_state(), state)  # the global generator is not drawn from
    counts = [int(cells[2].replace(",", "")) for cells in
              (table_row(str(stats), f"{r.name} ({r.type})") for r in stats.rows[1:]) if cells[2] != "--"]
    assert sum(counts) == stats.total_params == model.num_parameters()
    assert stats.buffer_bytes > 0 and "Buffers size (MB)" in str(stats)


def test_inputs_torchinfo_style():
    model = nn.Linear(5, 2)
    assert cr.summary(model, (5,), batch_dim=0, verbose=0).row("").output_shape == (1, 2)
    data = cr.randn(3, 5)
    assert cr.summary(model, input_data=data, verbose=0).input_shapes == [(3, 5)]
    embedding = nn.Embedding(10, 4)
    stats = cr.summary(embedding, (2, 6), dtypes=[cr.int64], verbose=0)
    assert stats.row("").output_shape == (2, 6, 4) and stats.input_dtypes == ["int64"]


def test_verbose_prints_the_table(capsys):
    stats = cr.summary(nn.Linear(2, 1), (4, 2))
    assert capsys.readouterr().out.strip() == str(stats)
    assert repr(stats) == str(stats)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(model="net", input_size=(2, 2)), TypeError, "model must be a chainrule.nn.Module, got str"),
    (dict(input_size=None), ValueError, "pass either input_size"),
    (dict(input_size=(4, 3), input_data=cr.ones(4, 3)), ValueError, "got both"),
    (dict(input_size="4,3"), ValueError, "input_size must be a shape such as (64, 784)"),
    (dict(input_size=(0, 3)), ValueError, "has a size below 1"),
    (dict(input_size=(4, 3), dtypes=[cr.float32] * 2), ValueError, "one dtype per input (1)"),
    (dict(input_size=(4, 3), depth=-1), ValueError, "depth must be an integer >= 0"),
    (dict(input_size=(4, 3), verbose=3), ValueError, "verbose must be an integer >= 0 and <= 2"),
])
def test_bad_arguments_are_named(kwargs, error, words):
    kwargs = {"model": nn.Linear(3, 2), "verbose": 0, **kwargs}
    model = kwargs.pop("model")
    with pytest.raises(error) as caught:
        cr.summary(model, **kwargs)
    assert words in str(caught.value)


def test_a_failing_forward_pass_says_which_input():
    with pytest.raises(ValueError) as caught:
        cr.summary(nn.Linear(3, 2), (4, 5), verbose=0)
    assert "summary: the forward pass of Linear on input of shape (4, 5) failed" in caught.value.__notes__[0]


def test_cli_summary_of_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "xor", "--hidden", "3", "--epochs", "1", "--batch-size", "4", "--quiet",
                 "--run-dir", str(run)]) == 0
    capsys.readouterr()
    assert main(["summary", str(run)]) == 0
    out = capsys.readouterr().out
    assert "Sequential: input (4, 2) float32" in out  # the run's batch size and input shape
    assert table_row(out, "0 (Linear)") == ["0 (Linear)", "[4, 3]", "9", "yes"]
    assert table_row(out, "2 (Linear)") == ["2 (Linear)", "[4, 2]", "8", "yes"]
    assert "Total params: 17" in out
    assert main(["summary", str(run), "--batch-size", "1", "--depth", "0"]) == 0
    out = capsys.readouterr().out
    assert "input (1, 2)" in out and "0 (Linear)" not in out


def test_cli_summary_errors(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("chainrule summary: error: ") and "is not a run folder" in err and "\n" not in err
    with pytest.raises(SystemExit):
        main(["summary", "--help"])
    assert "RUN" in capsys.readouterr().out


def test_a_layer_called_twice_is_one_row_with_its_calls():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(3, 3)

        def forward(self, x):
            return self.shared(self.shared(x).tanh())

    stats = cr.summary(Twice(), (2, 3), verbose=0)
    assert stats.row("shared").calls == 2 and stats.row("shared").params == 12
    assert stats.activation_bytes == 2 * 4 * 2 * 3  # both calls' outputs
    assert table_row(str(stats), "shared (Linear)")[1] == "[2, 3] x2 calls"
