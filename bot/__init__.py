"""falco-rules-bot: reviews contributions to Falco rules repositories."""

__version__ = "0.1.0"
