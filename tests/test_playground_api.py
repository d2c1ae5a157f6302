"""The playground's server without a browser: Starlette's test client over HTTP and WebSocket."""

import io
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")  # (the client of Starlette's TestClient)

from starlette.testclient import TestClient

from chainrule.cli import _explain
from chainrule.playground.app import create_app
from chainrule.playground.config import LIMITS, PRESETS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def app():
    return create_app(max_sessions=2, frame_interval=0.02)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def receive_until(ws, kind, limit=10_000):
    """Messages up to and including the first of type ``kind``."""
    seen = []
    for _ in range(limit):
        message = ws.receive_json()
        seen.append(message)
        if message["type"] == kind:
            return seen
    raise AssertionError(f"no {kind} message")


def configure(ws, **config):
    ws.send_json({"type": "configure", "config": config})
    return ws.receive_json()


def test_import_chainrule_stays_numpy_only():
    code = ("import sys, chainrule, chainrule.playground.session\n"
            "print(sorted(m for m in ('starlette', 'uvicorn', 'httpx') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert run.stdout.strip() == "[]"


def test_options_and_pages(client):
    options = client.get("/api/options").json()
    assert options["datasets"] == ["xor", "moons", "circles", "spirals", "csv"]
    assert options["limits"]["max_layers"] == 32 and options["limits"]["max_width"] == 64
    assert set(options["presets"]) == {"stuck", "local_minimum", "fix_relu_he", "fix_residual", "fix_batch_norm",
                                       "fix_restarts"}
    assert set(options["preset_notes"]) == set(options["presets"])
    assert options["presets"]["stuck"]["hidden"] == [8] * 20 and options["presets"]["stuck"]["activation"] == "sigmoid"
    assert "ReLU" in options["preset_notes"]["stuck"] and "residual" in options["preset_notes"]["stuck"]
    assert client.get("/").headers["content-type"].startswith("text/html")
    assert client.get("/static/index.html").status_code == 200


def test_configure_ready_and_frame(client):
    with client.websocket_connect("/ws") as ws:
        ready = configure(ws, dataset="moons", n_points=100, hidden=[5, 3], resolution=12)
        assert ready["type"] == "ready" and ready["classes"] == 2 and ready["architecture"] == "2-5-3-2 tanh"
        assert len(ready["train"]) + len(ready["test"]) == 100 and len(ready["train"][0]) == 3
        assert ready["config"]["lr"] == 0.1 and len(ready["extent"]) == 4
        frame = ws.receive_json()
        assert frame["type"] == "frame" and frame["epoch"] == 0
        assert len(frame["boundary"]["grid"]) == len(frame["boundary"]["confidence"]) == 144
        assert frame["history"] == {"epoch": [0], "train_loss": [frame["train_loss"]],
                                    "test_loss": [frame["test_loss"]]}


BAD = [  # field, value, words the message must hold
    ("dataset", "mnist", "dataset must be one of"), ("noise", -0.5, "got -0.5"), ("noise", "a lot", "noise"),
    ("n_points", 3, "n_points"), ("n_points", LIMITS["max_points"] + 1, "2001"), ("n_points", 10.5, "whole"),
    ("test_fraction", 0.95, "test_fraction"), ("hidden", [8] * 33, "at most 32"), ("hidden", [65], "1 to 64"),
    ("hidden", [0], "got 0"), ("hidden", "8,8", "list"), ("activation", "swish", "activation"),
    ("init", "orthogonal", "init"), ("dropout", 1, "dropout"), ("batch_norm", "yes", "true or false"),
    ("residual", 1, "true or false"), ("loss", "hinge", "loss"), ("optimizer", "lbfgs", "optimizer"),
    ("lr", -1, "lr must be a positive number"), ("lr", 0, "got 0"), ("lr", True, "got true"),
    ("momentum", 1, "momentum"), ("schedule", "cyclic", "schedule"), ("batch_size", 0, "batch_size"),
    ("seed", -3, "seed"), ("restarts", 9, "restarts"), ("epochs", 0, "epochs"), ("resolution", 1000, "resolution"),
    ("csv_text", 5, "csv_text"), ("colour", "red", "unknown setting"),
]


@pytest.mark.parametrize(("field", "value", "words"), BAD)
def test_bad_config_names_the_field_and_keeps_the_state(client, field, value, words):
    with client.websocket_connect("/ws") as ws:
        configure(ws, dataset="xor", n_points=8, resolution=10)
        ws.receive_json()
        error = configure(ws, **{field: value})
        assert error["type"] == "error" and error["field"] == field and words in error["message"], error
        ws.send_json({"type": "reset"})  # the previous config still holds
        assert ws.receive_json()["config"]["n_points"] == 8


def test_residual_needs_equal_widths_and_csv_needs_rows(client):
    with client.websocket_connect("/ws") as ws:
        error = configure(ws, residual=True, hidden=[8, 4])
        assert error["field"] == "residual" and "equal width" in error["message"]
        error = configure(ws, dataset="csv")
        assert error["field"] == "csv_text" and "empty" in error["message"]


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"type": "fly"}', '{"type": "configure"}', '{"kind": 1}'])
def test_malformed_messages(client, text):
    with client.websocket_connect("/ws") as ws:
        ws.send_text(text)
        error = ws.receive_json()
        assert error["type"] == "error" and error["field"] is None and error["message"]


def test_step_mode_equals_chainrule_explain(client):
    for seed in (0, 2):
        out = io.StringIO()
        with redirect_stdout(out):
            _explain(SimpleNamespace(hidden=2, activation="sigmoid", lr=0.5, seed=seed, json=False), None)
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "configure", "config": {**PRESETS["local_minimum"], "seed": seed}})
            receive_until(ws, "frame")
            ws.send_json({"type": "step"})
            explained = ws.receive_json()
            assert explained["type"] == "explain"
            assert explained["text"] + "\n" == out.getvalue()  # print adds the last newline
            assert explained["explanation"]["lr"] == 0.5
            frame = ws.receive_json()
            assert frame["type"] == "frame" and frame["step"] == 1 and frame["epoch"] == 1


def test_step_with_adam_and_batch_norm(client):
    with client.websocket_connect("/ws") as ws:
        configure(ws, optimizer="adam", lr=0.01, n_points=40, resolution=10)
        ws.receive_json()
        ws.send_json({"type": "step"})
        explained = ws.receive_json()
        assert "adam optimizer" in explained["text"] and explained["explanation"]["layers"]
        assert ws.receive_json()["step"] == 1
        configure(ws, batch_norm=True, n_points=40, resolution=10)
        ws.receive_json()
        ws.send_json({"type": "step"})
        explained = ws.receive_json()
        assert explained["explanation"] is None and "BatchNorm1d" in explained["text"]
        assert ws.receive_json()["step"] == 1


def train_to(ws, config, accuracy, seconds=30):
    configure(ws, **config)
    ws.receive_json()
    ws.send_json({"type": "start"})
    deadline = time.monotonic() + seconds
    history = []
    while time.monotonic() < deadline:
        message = ws.receive_json()
        if message["type"] == "frame":
            history += message["history"]["epoch"]
            if (message["test_accuracy"] or message["train_accuracy"]) >= accuracy:
                break
    else:
        raise AssertionError(f"{config} did not reach {accuracy}")
    ws.send_json({"type": "pause"})
    status = receive_until(ws, "status")[-1]
    assert status["running"] is False and status["epoch"] >= 1
    assert history == sorted(set(history))  # no history point sent twice
    return message


def test_training_solves_xor_and_moons(client):
    with client.websocket_connect("/ws") as ws:
        train_to(ws, {"dataset": "xor", "n_points": 200, "noise": 0.1, "hidden": [8], "lr": 0.3,
                      "resolution": 10}, 0.95)
        frame = train_to(ws, {"dataset": "moons", "n_points": 200, "hidden": [16, 16], "optimizer": "adam",
                              "lr": 0.02, "resolution": 10}, 0.95)
        assert frame["verdict"]["kind"] == "healthy" and len(frame["grad_norms"]) == 3


def test_presets_show_the_failures(client):
    with client.websocket_connect("/ws") as ws:
        configure(ws, **{**PRESETS["stuck"], "resolution": 10})
        ws.receive_json()
        for _ in range(3):
            ws.send_json({"type": "step"})
            ws.receive_json()
            frame = ws.receive_json()
        assert frame["verdict"]["kind"] == "vanishing" and "ReLU" in frame["verdict"]["text"]
        assert len(frame["grad_norms"]) == 21


def test_reset_starts_again_from_the_seed(client):
    with client.websocket_connect("/ws") as ws:
        first = configure(ws, n_points=40, resolution=10)
        start = ws.receive_json()
        for _ in range(2):
            ws.send_json({"type": "step"})
            receive_until(ws, "frame")
        ws.send_json({"type": "reset"})
        again = ws.receive_json()
        frame = ws.receive_json()
        assert again["train"] == first["train"] and frame["train_loss"] == start["train_loss"] and frame["step"] == 0


def test_closing_the_socket_stops_training(app, client):
    registry = app.state.registry
    with client.websocket_connect("/ws") as ws:
        configure(ws, n_points=400, hidden=[32, 32], epochs=20_000, resolution=10)
        ws.send_json({"type": "start"})
        receive_until(ws, "status")
        receive_until(ws, "frame")
        (session,) = registry.sessions
        thread = session.thread
        assert thread.is_alive()
    deadline = time.monotonic() + 10
    while (thread.is_alive() or registry.sessions) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not thread.is_alive() and not registry.sessions
    assert not any(t.name == "chainrule-playground" for t in threading.enumerate())


def test_session_limit_answers_full(client):
    with client.websocket_connect("/ws"), client.websocket_connect("/ws"), client.websocket_connect("/ws") as third:
        message = third.receive_json()
        assert message["type"] == "full" and "maximum of 2 sessions" in message["message"]


def test_csv_upload(client):
    good = "x1,x2,label\n" + "\n".join(f"{i % 7},{i % 5},{'yes' if i % 2 else 'no'}" for i in range(30))
    with client.websocket_connect("/ws") as ws:
        ready = configure(ws, dataset="csv", csv_text=good, resolution=10)
        assert ready["type"] == "ready" and ready["classes"] == 2
        assert len(ready["train"]) + len(ready["test"]) == 30
        ws.receive_json()
        for text, words in [
            ("x1,x2,label\n1,2,a\n3,4\n5,6,b\n7,8,a\n", "line 3"),
            ("1,2,a\n3,nan,b\n5,6,a\n7,8,b\n", "finite"),
            ("1,2,a\n3,inf,b\n5,6,a\n7,8,b\n", "finite"),
            ("1,2,a\n3,4,a\n5,6,a\n7,8,a\n", "2 to 10 distinct labels"),
            ("1,2,a\n", "at least 4 rows"),
            ("1,2,a\n" * (LIMITS["max_points"] + 1), "at most 2000 rows"),
            ("1,2,a\n" * 40_000, "at most 200000 bytes"),
        ]:
            error = configure(ws, dataset="csv", csv_text=text)
            assert error["type"] == "error" and error["field"] == "csv_text" and words in error["message"], error


def test_memory_bounds_hold_at_the_limits(client):
    with client.websocket_connect("/ws") as ws:
        ready = configure(ws, n_points=LIMITS["max_points"], hidden=[LIMITS["max_width"]] * LIMITS["max_layers"],
                          resolution=LIMITS["max_resolution"], test_fraction=0.5)
        assert ready["type"] == "ready" and len(ready["train"]) == 1000
        assert len(ws.receive_json()["boundary"]["grid"]) == LIMITS["max_resolution"] ** 2
        ws.send_json({"type": "step"})
        receive_until(ws, "explain")
        assert len(ws.receive_json()["grad_norms"]) == 33
        ws.send_text("x" * 500_000)
        assert "at most" in ws.receive_json()["message"]


def test_configure_while_running_pauses_and_says_so(client):
    with client.websocket_connect("/ws") as ws:
        configure(ws, n_points=400, hidden=[32, 32], resolution=10)
        ws.send_json({"type": "start"})
        receive_until(ws, "status")
        error = configure(ws, lr=-1)  # refused before anything stops
        while error["type"] == "frame":
            error = ws.receive_json()
        assert error["field"] == "lr"
        ws.send_json({"type": "configure", "config": {"n_points": 40, "resolution": 10}})
        replies = receive_until(ws, "ready")
        assert replies[-2] == {"type": "status", "running": False, "epoch": replies[-2]["epoch"]}
        assert ws.receive_json()["type"] == "frame"


def test_the_last_epoch_stops_training(client):
    with client.websocket_connect("/ws") as ws:
        configure(ws, dataset="xor", n_points=4, noise=0.0, test_fraction=0.0, batch_size=4, epochs=30,
                  resolution=10)
        ws.send_json({"type": "start"})
        messages = receive_until(ws, "status")
        messages += receive_until(ws, "status")
        stopped = messages[-1]
        assert stopped["running"] is False and stopped["epoch"] == 30 and "last epoch" in stopped["message"]
        frame = [m for m in messages if m["type"] == "frame"][-1]
        assert frame["epoch"] == 30 and frame["test_loss"] is None and frame["test_accuracy"] is None
        ws.send_json({"type": "start"})
        assert ws.receive_json()["running"] is False


def test_sessions_draw_from_their_own_seeded_generators(client):
    import chainrule

    chainrule.manual_seed(123)
    state = chainrule.random.get_rng_state()
    config = {"dropout": 0.3, "seed": 5, "n_points": 60, "resolution": 10}
    with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        frames = {}
        for name, ws in (("a", a), ("b", b)):
            configure(ws, **config)
            frames[name] = [ws.receive_json()["train_loss"]]
        for _ in range(3):  # interleaved: each session's dropout masks come from its own generator
            for name, ws in (("a", a), ("b", b)):
                ws.send_json({"type": "step"})
                frames[name].append(receive_until(ws, "frame")[-1]["train_loss"])
        assert frames["a"] == frames["b"] and len(set(frames["a"])) == 4
    assert chainrule.random.get_rng_state() == state  # the process's generator is left alone


@pytest.mark.parametrize(("preset", "solved"), [
    ("stuck", False), ("fix_relu_he", True), ("fix_residual", True), ("fix_batch_norm", True),
    ("local_minimum", False), ("fix_restarts", True),
])
def test_presets_fail_and_their_fixes_work(preset, solved):
    """What the preset notes promise, trained to the preset's last epoch (seconds each)."""
    from chainrule.playground.session import Session

    session = Session()
    assert session.handle({"type": "configure", "config": {**PRESETS[preset], "resolution": 10}})[0]["type"] == "ready"
    while session.epoch < PRESETS[preset]["epochs"]:
        session.train_batch()
    frame = session.frame()
    assert (frame["train_accuracy"] >= 0.95) == solved, frame["train_accuracy"]
    if preset == "stuck":
        assert frame["verdict"]["kind"] == "vanishing"
    if preset == "local_minimum":  # the loss 1/2 sum (y - t)^2 = 0.25: two of four points at 0.5
        assert abs(frame["train_loss"] * 4 - 0.25) < 0.01


def test_an_unforeseen_failure_is_an_error_message_and_the_session_goes_on(monkeypatch):
    from chainrule.playground.session import Session

    def broken(self, message):
        raise RuntimeError("boom")

    with TestClient(create_app()) as client, client.websocket_connect("/ws") as ws:
        with monkeypatch.context() as patch:
            patch.setattr(Session, "_handle", broken)
            ws.send_json({"type": "pause"})
            reply = ws.receive_json()
        assert reply["type"] == "error" and reply["field"] is None and "RuntimeError: boom" in reply["message"]
        ws.send_json({"type": "pause"})  # the connection is still open and answers
        assert ws.receive_json()["type"] == "status"
