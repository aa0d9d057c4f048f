"""`python -m bot`: the same as the `falco-rules-bot` command."""

from bot.cli import run

run()
