"""The store's schema: its tables and the ordered migrations that build them (applied by bot.store)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, primary_key=True),
                       Column("applied_at", Float, nullable=False))  # fmt: skip
deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", String(100), nullable=False, unique=True),
    Column("event", String(64), nullable=False),
    Column("action", String(64)),
    Column("repo", String(255)),
    Column("installation_id", BigInteger),
    Column("received_at", Float, nullable=False),
)  # fmt: skip
review_requests = Table(
    "review_requests", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # review | comment (a PR comment to read for commands)
    Column("repo", String(255), nullable=False),
    Column("pr_number", Integer, nullable=False),
    Column("installation_id", BigInteger, nullable=False),
    Column("head_sha", String(64)),
    Column("trigger", String(64), nullable=False),
    Column("delivery_id", String(100)),
    Column("command_comment_id", BigInteger),
    Column("details", Text),  # JSON: what a comment job needs (body, author, URL)
    Column("generation", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # queued | running | done | superseded | failed
    Column("lease_until", Float),
    Column("lease_owner", String(200)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("outcome", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("repo", "pr_number", "kind", "generation", name="uq_request_generation"),
    Index("ix_request_state_lease", "state", "lease_until"),
    Index("ix_request_head", "repo", "head_sha"),
)  # fmt: skip
reviews = Table(
    "reviews", metadata,
    Column("id", Integer, primary_key=True),
    Column("request_id", Integer),
    Column("repo", String(255), nullable=False),
    Column("pr_number", Integer, nullable=False),
    Column("head_sha", String(64), nullable=False),
    Column("base_sha", String(64), nullable=False),
    Column("conclusion", String(16), nullable=False),
    Column("report", Text, nullable=False),
    Column("comment_id", BigInteger),
    Column("check_run_id", BigInteger),
    Column("created_at", Float, nullable=False),
    Index("ix_review_pr", "repo", "pr_number", "head_sha"),
)  # fmt: skip
installations = Table(
    "installations", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("account", String(255)),
    Column("repositories", Text, nullable=False),  # JSON list of full names
    Column("suspended", Boolean, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("updated_at", Float, nullable=False),
)  # fmt: skip
agreement_signatures = Table(
    "agreement_signatures", metadata,
    Column("id", Integer, primary_key=True),
    Column("repo", String(255), nullable=False),
    Column("login", String(255), nullable=False),  # lower case: logins are case-insensitive
    Column("signed_at", Float, nullable=False),
    Column("comment_url", Text),
    UniqueConstraint("repo", "login", name="uq_signature"),
)  # fmt: skip
replies = Table(
    "replies", metadata,
    Column("id", Integer, primary_key=True),
    Column("repo", String(255), nullable=False),
    Column("pr_number", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", Float, nullable=False),
    UniqueConstraint("repo", "pr_number", "kind", name="uq_reply"),
)  # fmt: skip
pr_locks = Table(
    "pr_locks", metadata,
    Column("repo", String(255), primary_key=True),
    Column("pr_number", Integer, primary_key=True, autoincrement=False),
    Column("owner", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
)  # fmt: skip

V1_TABLES = [deliveries, review_requests, reviews, installations, agreement_signatures, replies, pr_locks]


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=V1_TABLES, checkfirst=True)


# Ordered: (version, step). A step runs once, inside the transaction that records its version.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(1, _v1)]
