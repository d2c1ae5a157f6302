"""Collection: the playground's server module needs its optional extra; its doctests are skipped
without it (tests/test_playground_api.py skips itself)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("starlette") else ["chainrule/playground/app.py"]
