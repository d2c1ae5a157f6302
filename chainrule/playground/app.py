"""The playground's web server: a Starlette app (``create_app``) served by uvicorn from
``chainrule playground`` (127.0.0.1:8765 unless told otherwise; it opens no browser). Needs the
``playground`` extra: pip install 'chainrule[playground]'.

HTTP: ``GET /`` the page, ``/static/...`` its files (chainrule/playground/static, package data),
``GET /api/options`` the choices, limits, defaults, presets and their notes (config.options()).

WebSocket ``/ws``: one session (session.Session) per connection, ``max_sessions`` at most; one
more gets ``{"type": "full", "message": ...}`` and is closed. The page sends JSON text messages:

- ``{"type": "configure", "config": {...}}``: every field optional (config.DEFAULTS fills them);
  answered by ``ready`` (full config, train and test points, classes, architecture, extent) and a
  ``frame``, or by ``{"type": "error", "field": NAME, "message": ...}`` with the state unchanged;
- ``start`` / ``pause``: ``{"type": "status", "running": bool, "epoch": E}``;
- ``step``: one batch, answered by ``{"type": "explain", "text", "explanation"}`` (the numbers of
  chainrule.explain.explain_step, as ``chainrule explain`` prints them) and a ``frame``;
- ``reset``: fresh weights from the seed: ``ready`` and a ``frame``;
- anything else: ``error`` with field null.

A ``frame`` holds the epoch, step, train/test loss (per sample) and accuracy, the decision
boundary on a resolution x resolution grid (class and confidence per cell), the gradient norm of
each layer and the vanishing/exploding verdict with its remedy, and under "history" the history
points not sent before. While a session trains, its thread sends a frame at most every
``frame_interval`` seconds through a bounded outbox in which the newest frame replaces unsent
ones. Closing the connection stops the session's thread and frees its place.
"""

import asyncio
import json
import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from chainrule.playground.config import LIMITS, options
from chainrule.playground.session import FRAME_INTERVAL, Session

STATIC = Path(__file__).with_name("static")
# A configure message holds at most a CSV of max_csv_bytes, with room for JSON escaping.
MAX_MESSAGE_CHARS = 2 * LIMITS["max_csv_bytes"] + 10_000


class Registry:
    """The open sessions, at most ``limit`` of them."""

    def __init__(self, limit: int):
        self.limit = limit
        self.sessions = set()
        self._lock = threading.Lock()

    def open(self, frame_interval: float):
        with self._lock:
            if len(self.sessions) >= self.limit:
                return None
            session = Session(frame_interval)
            self.sessions.add(session)
            return session

    def discard(self, session) -> None:
        with self._lock:
            self.sessions.discard(session)


def _dumps(message) -> str:
    return json.dumps(message, allow_nan=False, separators=(",", ":"))


async def _index(request):
    return FileResponse(STATIC / "index.html")


async def _options(request):
    return JSONResponse(options())


def _handled(session, message) -> list:
    """The session's replies; a failure the checks did not foresee becomes an error message on the
    page (naming it) instead of a closed connection."""
    try:
        return session.handle(message)
    except Exception as err:  # (the page must hear of any failure)
        message = f"the server could not do that: {type(err).__name__}: {err}"
        return [{"type": "error", "field": None, "message": message}]


async def _socket(websocket: WebSocket):
    await websocket.accept()
    registry = websocket.app.state.registry
    session = await asyncio.to_thread(registry.open, websocket.app.state.frame_interval)
    if session is None:
        sessions = f"{registry.limit} session{'s' if registry.limit != 1 else ''}"
        await websocket.send_text(_dumps({"type": "full", "message": f"the server holds its maximum of {sessions}; "
                                                                     "close another tab"}))
        await websocket.close(code=1013)
        return
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    session.outbox.notify = lambda: loop.call_soon_threadsafe(wake.set)
    send_lock = asyncio.Lock()

    async def send(messages):
        async with send_lock:  # replies and the pump's frames never interleave mid-message
            for message in messages:
                if message.get("type") == "frame":
                    message = {**message, "history": session.take_history()}
                await websocket.send_text(_dumps(message))

    async def pump():
        while True:
            await wake.wait()
            wake.clear()
            await send(session.outbox.take_all())

    pumping = asyncio.create_task(pump())
    try:
        while True:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                break
            text = event.get("text")
            if text is None:
                replies = [{"type": "error", "field": None, "message": "messages must be JSON text frames"}]
            elif len(text) > MAX_MESSAGE_CHARS:
                replies = [{"type": "error", "field": None,
                            "message": f"a message must be at most {MAX_MESSAGE_CHARS} characters, got {len(text)}"}]
            else:
                try:
                    message = json.loads(text)
                except ValueError as err:
                    replies = [{"type": "error", "field": None, "message": f"the message is not JSON: {err}"}]
                else:
                    replies = await asyncio.to_thread(_handled, session, message)
            await send(replies)
    except Exception:  # the page went away mid-send: nothing left to tell it
        pass
    finally:
        # Stop the thread before any await: a cancelled task (server shutdown) may not get past one.
        pumping.cancel()
        session.outbox.notify = lambda: None
        session.stop_event.set()
        registry.discard(session)
        await asyncio.to_thread(session.close)


def create_app(max_sessions: int = 8, frame_interval: float = FRAME_INTERVAL) -> Starlette:
    """The playground's Starlette app: at most ``max_sessions`` sessions at once, a frame at most
    every ``frame_interval`` seconds while one trains."""
    app = Starlette(routes=[
        Route("/", _index),
        Route("/api/options", _options),
        WebSocketRoute("/ws", _socket),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
    app.state.registry = Registry(max_sessions)
    app.state.frame_interval = frame_interval
    return app


def serve(host: str = "127.0.0.1", port: int = 8765, max_sessions: int = 8) -> None:
    """Run the server until interrupted (``chainrule playground``)."""
    import uvicorn

    uvicorn.run(create_app(max_sessions), host=host, port=port, log_level="warning",
                ws_max_size=4 * MAX_MESSAGE_CHARS)
