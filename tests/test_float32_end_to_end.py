"""Float32 end to end: in a float32 training step of each benchmarked architecture, every recorded
op's output and every gradient a VJP produces is float32 (a float64 value anywhere would double
the memory traffic of everything after it, silently: the engine would cast it back)."""

import importlib
import pkgutil

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.autograd import engine


class GRUClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.head = nn.GRU(1, 8, batch_first=True), nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


ARCHITECTURES = {
    "mlp": (lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3)), (4, 6)),
    "cnn": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(64, 3)), (4, 1, 10, 10)),
    "gru": (GRUClassifier, (4, 5, 1)),
}


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("loss_name", ["cross_entropy", "mse"])
def test_a_float32_training_step_computes_only_float32(name, loss_name, monkeypatch):
    seen = []
    record = engine.record

    def checking_record(op, data, parents, vjp, saved=None, remake=None):
        seen.append((op, data.dtype))

        def checked_vjp(g, *values):
            grads = vjp(g, *values)
            seen.extend((f"{op} backward", gr.dtype) for gr in grads if gr is not None)
            return grads

        return record(op, data, parents, checked_vjp, saved, remake)

    recording = [m for m in (importlib.import_module(f"chainrule.ops.{info.name}")
                             for info in pkgutil.iter_modules(cr.ops.__path__)) if hasattr(m, "record")]
    assert len(recording) >= 12  # every module of ops that records nodes
    for module in recording:
        monkeypatch.setattr(module, "record", checking_record)
    cr.manual_seed(0)
    build, shape = ARCHITECTURES[name]
    model = build()
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = cr.randn(*shape)
    if loss_name == "cross_entropy":
        loss = nn.CrossEntropyLoss()(model(x), cr.tensor([0, 1, 2, 1]))
    else:
        loss = nn.MSELoss()(model(x), cr.zeros(4, 3))
    loss.backward()
    opt.step()
    assert seen, "no op was recorded"
    wrong = sorted({op for op, dtype in seen if dtype != np.float32})
    assert not wrong, f"ops producing non-float32 values: {wrong}"
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    moments = [v for s in opt.state.values() for v in s.values() if isinstance(v, (np.ndarray, cr.Tensor))]
    assert moments and all(v.dtype == np.float32 for v in moments)
