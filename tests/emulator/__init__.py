"""A GitHub emulator for the tests: REST (under /api/v3) and GraphQL (at /api/graphql) as GitHub Enterprise Server
serves them, git smart HTTP, and webhook deliveries, over real HTTP on 127.0.0.1, with state.

Every request is validated against GitHub's published OpenAPI description (the vendored subset in
tests/github_specs), every response too (mismatches land in `Emulator.schema_violations`), every GraphQL document
against GitHub's schema (rejections land in `Emulator.graphql_rejections`); webhook payloads are built from GitHub's
own examples. See tests/github_specs/PROVENANCE.md.
"""

from .core import Call, Emulator, Fault, Faults
from .state import App, User
from .webhooks import schema_errors as webhook_schema_errors
from .webhooks import signature_256

__all__ = ["App", "Call", "Emulator", "Fault", "Faults", "User", "signature_256", "webhook_schema_errors"]
