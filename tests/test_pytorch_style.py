"""PyTorch-style programs run on chainrule and give NumPy's numbers (issue 17).

Each program in tests/pytorch_style/ is written against PyTorch's API with the library passed in
(``main(torch)``); here it runs with ``chainrule`` and its results are checked against NumPy
forward passes, central-difference gradients and the optimizers' published update equations.
benchmarks/pytorch_examples.py runs the same programs under PyTorch too and compares.
"""

import ast
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import chainrule

ROOT = Path(__file__).resolve().parent.parent
STYLE = ROOT / "tests" / "pytorch_style"
H = 1e-6  # central-difference step: about 1e-10 absolute error on these float64 losses


def run(name):
    """The program's module and what its main(chainrule) returned."""
    spec = importlib.util.spec_from_file_location(f"pytorch_style_{name}", STYLE / f"{name}.py")
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    return program, program.main(chainrule)


def close(actual, expected, rtol=1e-6, atol=1e-9):
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=rtol, atol=atol)


def numeric_gradient(loss, params):
    """Central differences of loss(params) with respect to every entry of every array."""
    grads = {}
    for name, value in params.items():
        grad = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            old = value[i]
            value[i] = old + H
            up = loss(params)
            value[i] = old - H
            down = loss(params)
            value[i] = old
            grad[i] = (up - down) / (2 * H)
        grads[name] = grad
    return grads


# -------------------------------------------------------- the optimizers' equations (PyTorch's docs)


def adadelta_step(params, grads, state, lr, rho=0.9, eps=1e-6):
    for name, g in grads.items():
        square_avg, acc_delta = state.setdefault(name, [np.zeros_like(g), np.zeros_like(g)])
        square_avg[...] = rho * square_avg + (1 - rho) * g * g
        delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
        acc_delta[...] = rho * acc_delta + (1 - rho) * delta * delta
        params[name] = params[name] - lr * delta


def adam_step(params, grads, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] = t = state.get("t", 0) + 1
    for name, g in grads.items():
        m, v = state.setdefault(name, [np.zeros_like(g), np.zeros_like(g)])
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        params[name] = params[name] - lr * m_hat / (np.sqrt(v_hat) + eps)


def sgd_momentum_step(params, grads, state, lr, momentum):
    for name, g in grads.items():
        state[name] = g.copy() if name not in state else momentum * state[name] + g
        params[name] = params[name] - lr * state[name]


# ------------------------------------------------------------------------------ NumPy building blocks


def linear(x, params, name):
    return x @ params[f"{name}.weight"].T + params[f"{name}.bias"]


def relu(x):
    return np.maximum(x, 0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def conv2d(x, weight, bias):
    """Valid cross-correlation, stride 1: (N, C, H, W) with (O, C, k, k) -> (N, O, H-k+1, W-k+1)."""
    k = weight.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # (N, C, H', W', k, k)
    return np.einsum("nchwij,ocij->nohw", windows, weight) + bias[None, :, None, None]


def max_pool2(x):
    n, c, h, w = x.shape
    return x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


# ------------------------------------------------------------------------------------------- tests


def test_cnn_with_adadelta_steplr_and_dataloader_trains_as_numpy_says():
    program, result = run("style_cnn_adadelta")
    images, labels = program.dataset()
    params = program.weights()

    def forward(p, x):
        h = max_pool2(relu(conv2d(x, p["conv1.weight"], p["conv1.bias"])))
        return log_softmax(linear(h.reshape(len(x), -1), p, "fc1"))

    def nll(p, x, y):
        return -forward(p, x)[np.arange(len(y)), y].mean()

    losses, state = [], {}
    for lr in (1.0, 0.7):  # StepLR(step_size=1, gamma=0.7) stepped once per epoch
        for batch in (slice(0, 4), slice(4, 8)):
            x, y = images[batch], labels[batch]
            losses.append(nll(params, x, y))
            adadelta_step(params, numeric_gradient(lambda p, x=x, y=y: nll(p, x, y), params), state, lr)
    log_probs = forward(params, images)
    test_loss = -log_probs[np.arange(8), labels].sum() / 8
    correct = int((log_probs.argmax(axis=1) == labels).sum())

    close(result["losses"], losses)
    assert result["lrs"] == pytest.approx([1.0, 0.7], rel=1e-12)
    close(result["test_loss"], test_loss)
    assert result["correct"] == correct
    assert result["report"] == f"Average loss: {test_loss:.4f}, Accuracy: {correct}/8"
    assert result["device"] == "cpu"
    assert result["accelerators"] == [False, False]
    for name, value in params.items():
        close(result["weights"][name], value)


def test_vae_step_with_adam_matches_numpy():
    program, result = run("style_vae_step")
    images, noise, latent = program.data()
    params = program.weights()
    x = images.reshape(-1, 6)

    def decode(p, z):
        return sigmoid(linear(relu(linear(z, p, "fc3")), p, "fc4"))

    def forward(p, eps):
        h1 = relu(linear(x, p, "fc1"))
        mu, logvar = linear(h1, p, "fc21"), linear(h1, p, "fc22")
        return decode(p, mu + eps * np.exp(0.5 * logvar)), mu, logvar

    def loss(p, eps):
        recon, mu, logvar = forward(p, eps)
        bce = -(x * np.log(recon) + (1 - x) * np.log(1 - recon)).sum()
        return bce - 0.5 * (1 + logvar - mu**2 - np.exp(logvar)).sum()

    losses, state = [], {}
    for eps in noise:
        recon = forward(params, eps)[0]
        losses.append(loss(params, eps) / len(x))
        adam_step(params, numeric_gradient(lambda p, eps=eps: loss(p, eps), params), state, lr=1e-2)

    close(result["losses"], losses)
    close(result["sample"], decode(params, latent).reshape(2, 1, 2, 3))
    close(result["comparison"], np.concatenate([images[:2], recon.reshape(4, 1, 2, 3)[:2]]))
    for name, value in params.items():
        close(result["weights"][name], value)


@pytest.mark.filterwarnings("ignore:dropout2d")  # a 2-d input, as in mnist_rnn: PyTorch warns too
def test_lstm_batchnorm_dropout2d_model_in_eval_mode_matches_numpy():
    program, result = run("style_rnn_eval")
    p, hidden = program.weights(), program.HIDDEN
    x = program.data().reshape(-1, 4, 2)

    h = c = np.zeros((len(x), hidden))
    for t in range(x.shape[1]):  # PyTorch's gate order: input, forget, cell, output
        gates = x[:, t] @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + h @ p["rnn.weight_hh_l0"].T
        i, f, g, o = np.split(gates + p["rnn.bias_hh_l0"], 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    mean, var = p["batchnorm.running_mean"], p["batchnorm.running_var"]
    normalized = (h - mean) / np.sqrt(var + 1e-5) * p["batchnorm.weight"] + p["batchnorm.bias"]
    log_probs = log_softmax(linear(normalized, p, "fc1"))  # Dropout2d is the identity in eval mode

    close(result["log_probs"], log_probs)
    np.testing.assert_array_equal(result["pred"], log_probs.argmax(axis=1)[:, None])
    close(result["h_n"], h[None])
    close(result["c_n"], c[None])
    assert result["modes"] == [True, False, False, True, True]
    # one training-mode batch norm: momentum 0.1, the unbiased variance in the running estimate
    close(result["running_mean"], 0.9 * mean + 0.1 * h.mean(axis=0))
    close(result["running_var"], 0.9 * var + 0.1 * h.var(axis=0, ddof=1))
    assert result["num_batches_tracked"] == 1


def test_manual_updates_item_assignment_and_tensor_conveniences():
    program, result = run("style_manual_updates")
    inputs, targets, scores, labels = program.data()
    x = inputs.copy()
    x[0, 1] = 3
    w, b = program.weights()["weight"], program.weights()["bias"]
    losses = []
    for _step in range(4):  # p.data -= lr * grad twice, then p -= lr * grad under no_grad twice
        residual = x @ w.T + b - targets
        losses.append((residual**2).mean())
        grad_w, grad_b = 2 * residual.T @ x / residual.size, 2 * residual.sum(axis=0) / residual.size
        w, b = w - program.LR * grad_w, b - program.LR * grad_b

    close(result["losses"], losses)
    close(result["weight"], w)
    close(result["bias"], b)
    assert result["x01"] == 3.0
    assert (result["size1"], result["numel"]) == (3, 15)
    np.testing.assert_array_equal(result["pred"], scores.argmax(axis=1)[:, None])
    assert result["correct"] == int((scores.argmax(axis=1) == labels).sum()) == 4
    assert result["formatted"] == f"Loss: {losses[-1]:.4f}"
    assert result["is_leaf"] == [True, True]
    assert result["is_cuda"] == [False, False]


def test_checkpoint_round_trip_continues_training_identically():
    program, result = run("style_checkpoint")
    inputs, targets = program.data()
    params = program.weights()

    def loss(p):
        hidden = np.tanh(linear(inputs, p, "0"))
        return ((linear(hidden, p, "2") - targets) ** 2).mean()

    losses, state = [], {}
    for _step in range(3):
        losses.append(loss(params))
        sgd_momentum_step(params, numeric_gradient(loss, params), state, lr=0.1, momentum=0.9)

    assert result["same_draws"] is True
    close(result["losses"], losses)
    assert result["restored_loss"] == result["losses"][2]
    assert result["epoch"] == 3
    for name, value in params.items():
        close(result["weights"][name], value)
        np.testing.assert_array_equal(result["restored_weights"][name], result["weights"][name])
    assert result["modes"] == [True, True, True, False, False]


def harness():
    """benchmarks/pytorch_examples.py as a module (it imports only NumPy at the top)."""
    spec = importlib.util.spec_from_file_location("pytorch_examples", ROOT / "benchmarks" / "pytorch_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_harness_comparison_rejects_runs_that_differ():
    h = harness()
    printed = "Train Epoch: 1 [0/256 (0%)]\tLoss: 2.302585\nTest set: Average loss: 2.3026, Accuracy: 20/128 (16%)"
    same = (0, printed, "", [2.302585092994, 20.0], {"0000.fc.weight": np.array([[0.5, -0.25]])})
    assert h.compare_runs("mnist", same, same, 1e-6)[-1] is True
    rows = {
        "a loss off by 1e-5": (0, printed, "", [2.302585092994 * (1 + 1e-5), 20.0], same[4]),
        "a count off by one": (0, printed.replace("20/128", "21/128"), "", same[3], same[4]),
        "other text": (0, printed.replace("Test set", "Test"), "", same[3], same[4]),
        "one .item() fewer": (0, printed, "", same[3][:1], same[4]),
        "a weight off by 1e-5": (0, printed, "", same[3], {"0000.fc.weight": np.array([[0.5, -0.25 + 5e-6]])}),
        "another parameter": (0, printed, "", same[3], {"0000.fc.bias": np.array([0.5, -0.25])}),
        "a failed run": (1, "", "Traceback ...\nAttributeError: no view_as", [], {}),
    }
    for what, run_chainrule in rows.items():
        assert h.compare_runs("mnist", same, run_chainrule, 1e-6)[-1] is False, what
    assert h.compare_runs("mnist", same, rows["a failed run"], 1e-6)[2] == "AttributeError: no view_as"


def test_the_import_swap_rewrites_only_torch_imports():
    swap_imports = harness().swap_imports
    source = (
        "from __future__ import print_function\n"
        "import argparse\n"
        "import torch\n"
        "import torch.utils.data\n"
        "import torch.nn as nn\n"
        "from torch import nn, optim\n"
        "from torch.nn import functional as F\n"
        "from torch.optim.lr_scheduler import (\n    StepLR,\n)\n"
        "from torchvision import datasets, transforms\n"
        "def f():\n    import torch.nn.functional as F\n    return torch.randn(2)  # import torch\n"
    )
    assert swap_imports(source) == (
        "from __future__ import print_function\n"
        "import argparse\n"
        "import chainrule as torch\n"
        "import chainrule.utils.data, chainrule as torch\n"
        "import chainrule.nn as nn\n"
        "from chainrule import nn, optim\n"
        "from chainrule.nn import functional as F\n"
        "from chainrule.optim.lr_scheduler import StepLR\n"
        "from torchvision import datasets, transforms\n"
        "def f():\n    import chainrule.nn.functional as F\n    return torch.randn(2)  # import torch\n"
    )
    ast.parse(swap_imports(source))


def test_the_example_in_docs_pytorch_md_runs():
    text = (ROOT / "docs" / "pytorch.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {"__name__": "docs_pytorch"}
    exec(compile(example, "docs/pytorch.md", "exec"), namespace)
    assert str(namespace["device"]) == "cpu"
    assert np.isfinite(namespace["loss"].item())
