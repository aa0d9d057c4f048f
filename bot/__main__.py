"""`python -m bot`: the same as the `falco-rules-bot` command."""

import sys

from bot.cli import main

sys.exit(main())
