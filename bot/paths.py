"""Where the project's data lives: templates/ and config/ beside bot/ (a checkout, an editable install), else the
copies a wheel ships inside the package (bot/_data/; see pyproject.toml)."""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _base(name: str, marker: str) -> str:
    beside = os.path.join(os.path.dirname(_HERE), name)
    if os.path.isfile(os.path.join(beside, marker)):  # the marker: not some other package's top-level folder
        return beside
    return os.path.join(_HERE, "_data", name)


TEMPLATES = _base("templates", "engine.yml")
CONFIG = _base("config", "defaults.yml")
