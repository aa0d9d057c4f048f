"""The ASGI application for `uvicorn app:app`: settings from the environment, nothing else (only wiring)."""

from __future__ import annotations

import sys

from bot.render import phrases
from bot.settings import SettingsError, load_settings
from bot.web import create_app

try:
    app = create_app(load_settings())
except SettingsError as exc:
    sys.stderr.write(phrases("cli.yml")["usage_error"].format(problem=exc) + "\n")
    raise SystemExit(2) from None
