"""The `falco-rules-bot` command line; heavy modules are imported only by the subcommand that needs them."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from bot import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start-up
if TYPE_CHECKING:
    from bot.models import CheckResult, Report
    from bot.rules.engine import RulesFile
    from bot.rules.result import Diagnostic
    from bot.settings import Settings


EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _engine_version(text: str) -> tuple[int, int, int]:
    parts = text.split(".")
    if len(parts) == 1 and parts[0].isdigit():
        return (0, int(parts[0]), 0)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"invalid engine version '{text}' (expected x.y.z or an integer)")
    return int(parts[0]), int(parts[1]), int(parts[2])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="falco-rules-bot", description="Checks Falco rules contributions.")
    parser.add_argument("--version", action="version", version=f"falco-rules-bot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    val = sub.add_parser("validate", help="give Falco's verdict on rules files, loaded in order")
    val.add_argument("files", nargs="+", metavar="FILE")
    val.add_argument("--format", choices=("text", "json", "falco-json", "sarif", "github"), default="text",
                     help="github: GitHub Actions annotations")  # fmt: skip
    val.add_argument("--sort", action="store_true",
                     help="load the files in the default policy's load order, not as given")  # fmt: skip
    val.add_argument("--engine-version", type=_engine_version, default=None, metavar="V",
                     help="engine version to emulate (default 0.62.0, Falco 0.44.1)")  # fmt: skip
    val.add_argument("--plugin", action="append", default=[], metavar="NAME",
                     help="also load this plugin's fields and source (repeatable)")  # fmt: skip
    val.add_argument("--max-file-bytes", type=int, default=None, metavar="N")
    val.add_argument("--max-depth", type=int, default=None, metavar="N",
                     help="deepest YAML nesting and condition nesting accepted")  # fmt: skip
    chk = sub.add_parser("check", help="review base..head of a local repository as the App reviews a pull request")
    chk.add_argument("--repo", default=".", metavar="DIR")
    chk.add_argument("--base", default="main", metavar="REF")
    chk.add_argument("--head", default="HEAD", metavar="REF")
    chk.add_argument("--pr-title", default="", metavar="T")
    chk.add_argument("--pr-body-file", default=None, metavar="F")
    chk.add_argument("--policy", default=None, metavar="FILE", help="a .github/falco-rules-bot.yml to apply")
    chk.add_argument("--gnupghome", default=None, metavar="DIR", help="keyring to verify signatures with")
    chk.add_argument("--issue", action="append", default=[], metavar="REF=STATE",
                     help="what is known of a referenced issue, e.g. '#12=open' (repeatable)")  # fmt: skip
    chk.add_argument("--status", action="append", default=[], metavar="CONTEXT=STATE",
                     help="a status of the head commit (agreement status mode), e.g. EasyCLA=success")  # fmt: skip
    chk.add_argument("--agreement-signatures", default=None, metavar="FILE",
                     help="recorded agreement signatures, one login or email a line (comment mode)")  # fmt: skip
    chk.add_argument("--format", choices=("text", "markdown", "json", "sarif", "github"), default="text",
                     help="markdown: the comment the App would post; github: GitHub Actions annotations")  # fmt: skip
    mtx = sub.add_parser("matrix", help="lay the rules out under the MITRE ATT&CK tactics their tags name")
    mtx.add_argument("files", nargs="+", metavar="FILE")
    mtx.add_argument("--attack-version", default="19", metavar="V", help="ATT&CK Enterprise version: 19 or 18.1")
    mtx.add_argument("--format", choices=("markdown", "html", "json"), default="markdown")
    mtx.add_argument("--columns", default=None, metavar="A,B,...",
                     help="only these tactics, by shortname (execution,defense-evasion,...) or ID")  # fmt: skip
    mtx.add_argument("--link-base", default=None, metavar="URL",
                     help="link each rule to URL/FILE#LLINE (e.g. https://github.com/ORG/REPO/blob/REF)")  # fmt: skip
    tgs = sub.add_parser(
        "tags", help="the tags check on the rules FILE... add or change since --base (a pre-commit hook)"
    )
    tgs.add_argument("files", nargs="+", metavar="FILE")
    tgs.add_argument("--base", default=None, metavar="REF",
                     help="compare with the files at REF (default HEAD: what the next commit changes)")  # fmt: skip
    tgs.add_argument("--policy", default=None, metavar="FILE", help="a .github/falco-rules-bot.yml to apply")
    tgs.add_argument("--format", choices=("text", "sarif", "github"), default="text")
    srv = sub.add_parser(
        "serve",
        help="run the GitHub App: webhook intake, with the review queue's consumer "
        "inside (none with REDIS_URL: run `worker` processes)",
    )
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    sub.add_parser("worker", help="run a standalone consumer of the review queue (scale-out mode)")
    doc = sub.add_parser("doctor", help="check this deployment's settings, GitHub, store, queue and tools")
    doc.add_argument("--format", choices=("text", "json"), default="text")
    cpl = sub.add_parser("completion", help="print the completion script of a shell (bash, zsh or fish)")
    cpl.add_argument("shell", choices=("bash", "zsh", "fish"))
    for name in ("validate", "check"):
        sub.choices[name].add_argument("--color", choices=("auto", "always", "never"), default="auto",
                                       help="colour the text format: auto (default) when stdout is a terminal and "
                                       "NO_COLOR is unset, or FORCE_COLOR is set")  # fmt: skip
    parser.formatter_class, parser.epilog = _HelpFormatter, _Epilog("main")
    for name, command in sub.choices.items():
        command.formatter_class, command.epilog = _HelpFormatter, _Epilog(name)
    return parser


class _Epilog(str):
    """The key of a --help epilog in templates/cli.yml (`epilog`), read only when help is printed."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help whose epilog (exit codes, environment) comes from templates/cli.yml with its line breaks."""

    def add_text(self, text: str | None) -> None:
        if isinstance(text, _Epilog):
            from bot.render import phrases

            text = str(phrases("cli.yml")["epilog"][str(text)])
        super().add_text(text)


def _phrase(key: str, **values: object) -> str:
    from bot.render import phrases

    return str(phrases("cli.yml")[key]).format(**values)


def _usage_error(problem: str) -> int:
    from bot.render import phrases

    sys.stderr.write(phrases("cli.yml")["usage_error"].format(problem=problem) + "\n")
    return EXIT_USAGE


def cmd_validate(args: argparse.Namespace) -> int:
    """`validate`: Falco's verdict (falco-json) or every finding (text, json, sarif, github annotations)."""
    from bot.rules.engine import EngineOptions, load_like_falco, validate
    from bot.rules.yamlsrc import Limits

    names = args.files
    if args.sort:
        from bot.checks.rules import load_order
        from bot.policy import defaults as policy_defaults

        names = load_order(list(names), policy_defaults()["rules_files"]["load_order"])
    files = _read_rules_files(names)
    if isinstance(files, int):
        return files
    from bot.rules.catalog import get_catalog

    unknown = [name for name in args.plugin if not get_catalog().has_plugin(name)]
    if unknown:
        known = ", ".join(sorted(get_catalog().plugins))
        return _usage_error(_phrase("unknown_plugin", name=unknown[0], known=known))
    defaults = Limits()
    depth = defaults.max_yaml_depth if args.max_depth is None else args.max_depth
    limits = Limits(
        max_file_bytes=defaults.max_file_bytes if args.max_file_bytes is None else args.max_file_bytes,
        max_yaml_depth=depth,
        max_condition_depth=defaults.max_condition_depth if args.max_depth is None else depth,
    )
    options = EngineOptions(limits=limits, extra_plugins=frozenset(args.plugin))
    if args.engine_version is not None:
        options = EngineOptions(args.engine_version, None, frozenset(args.plugin), limits)
    import json

    if args.format == "falco-json":
        from bot.formats import falco_json

        results = load_like_falco(files, options)
        texts = {f.name: _text(f.content) for f in files}
        print(json.dumps(falco_json(results, texts), indent=2))
        return EXIT_OK if all(r.successful for r in results) else EXIT_FINDINGS
    outcome = validate(files, options)
    diags = outcome.diagnostics
    if args.format == "json":
        from bot.formats import bot_json

        print(json.dumps(bot_json([f.name for f in files], diags), indent=2))
    elif args.format == "sarif":
        from bot.formats import sarif

        print(json.dumps(sarif(diags), indent=2))
    elif args.format == "github":
        from bot.formats import github_validation

        _print_lines(github_validation(diags))
    else:
        sys.stdout.write(_text_report(files, diags, _color(args)))
    return EXIT_FINDINGS if outcome.errors else EXIT_OK


def _read_rules_files(names: Sequence[str]) -> list[RulesFile] | int:
    """The files' bytes in the order given, or the usage exit code after saying which one cannot be read."""
    from bot.rules.engine import RulesFile

    files = []
    for name in names:
        try:
            with open(name, "rb") as handle:
                files.append(RulesFile(name, handle.read()))
        except OSError as exc:
            return _usage_error(_phrase("cannot_read", name=name, reason=exc.strerror or str(exc)))
    return files


def _text(content: str | bytes) -> str:
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def _text_report(files: Sequence[RulesFile], diags: Sequence[Diagnostic], color: bool = False) -> str:
    from bot.formats import code_description, snippet
    from bot.render import phrases

    paint = _painter(color)
    t = phrases("validate_text.yml")
    texts = {f.name: _text(f.content) for f in files}
    out: list[str] = []
    for d in diags:
        item_type, item_name = d.item()
        where = t["where"].format(line=d.line, column=d.column) if d.line else ""
        item = t["item"].format(item_type=item_type, item_name=item_name) if item_name else ""
        message = d.message or code_description(d.code)
        severity = paint(d.severity, d.severity)
        out.append(
            t["finding"].format(path=d.path, where=where, severity=severity, code=d.code, message=message, item=item)
        )
        out.extend(t["snippet_indent"] + line for line in snippet(d, texts).splitlines())
    for f in files:
        errors = sum(1 for d in diags if d.severity == "error" and d.file == f.name)
        warnings = sum(1 for d in diags if d.severity == "warning" and d.file == f.name)
        status = t["status_invalid"] if errors else t["status_warnings"] if warnings else t["status_ok"]
        status = paint(status, "error" if errors else "warning" if warnings else "pass")
        out.append(
            t["verdict"].format(
                name=f.name,
                status=status,
                errors=errors,
                errors_word=t["error_word"][errors != 1],
                warnings=warnings,
                warnings_word=t["warning_word"][warnings != 1],
            )
        )
    return "\n".join(out) + "\n"


def _painter(color: bool) -> Callable[[str, str], str]:
    """bot.termui.paint when colouring, else a function that leaves the text alone."""
    if not color:
        return lambda text, role: text
    from bot.termui import paint

    return paint


def _color(args: argparse.Namespace) -> bool:
    """Whether the text output is coloured (--color, NO_COLOR, FORCE_COLOR, a terminal on stdout)."""
    from bot.termui import color_wanted

    return color_wanted(getattr(args, "color", "never"), sys.stdout)


def cmd_matrix(args: argparse.Namespace) -> int:
    """`matrix`: the files' rules under the ATT&CK tactics their tags name; exit 1 when a file does not load."""
    from bot.attack import VERSIONS, load_catalog
    from bot.render import phrases

    text = phrases("matrix.yml")
    if args.attack_version not in VERSIONS:
        return _usage_error(text["unknown_version"].format(version=args.attack_version, known=", ".join(VERSIONS)))
    columns = [c for c in args.columns.split(",") if c.strip()] if args.columns is not None else None
    from bot.matrix import matrix_of_rules, render_matrix, resolve_columns

    catalog = load_catalog(args.attack_version)
    try:
        resolve_columns(catalog, columns or [])
    except ValueError as exc:
        known = ",".join(t.shortname for t in catalog.tactics)
        return _usage_error(text["unknown_column"].format(name=exc, version=args.attack_version, known=known))
    from bot.rules.engine import validate

    files = _read_rules_files(args.files)
    if isinstance(files, int):
        return files
    outcome = validate(files)
    if outcome.errors:
        sys.stderr.write(_text_report(files, [d for d in outcome.diagnostics if d.severity == "error"]))
        return EXIT_FINDINGS
    matrix = matrix_of_rules(outcome.collector.rules.values(), args.attack_version, columns)
    sys.stdout.write(render_matrix(matrix, args.format, args.link_base))
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """`check`: every check on base..head of a local repository; exit 1 when the conclusion is failure."""
    from dataclasses import replace

    from bot.gitrepo import GitError
    from bot.localsnapshot import local_snapshot, parse_issue_fact
    from bot.models import AgreementFacts
    from bot.policy import resolve_policy

    repo_name = "local/repository"
    issues = []
    for text in args.issue:
        fact = parse_issue_fact(text, repo_name)
        if fact is None:
            return _usage_error(_phrase("bad_issue", text=text))
        issues.append(fact)
    try:
        body = _read_text(args.pr_body_file) if args.pr_body_file else ""
        policy_text = _read_text(args.policy) if args.policy else None
    except OSError as exc:
        return _usage_error(_phrase("cannot_read", name=exc.filename, reason=exc.strerror or str(exc)))
    try:
        signed = _read_text(args.agreement_signatures).split() if args.agreement_signatures else []
    except OSError as exc:
        return _usage_error(_phrase("cannot_read", name=exc.filename, reason=exc.strerror or str(exc)))
    statuses = tuple(tuple(item.split("=", 1)) for item in args.status if "=" in item)
    policy, policy_findings = resolve_policy(policy_text)
    from bot.review import review
    from bot.termui import progress

    problem = None
    label = _phrase("progress_commits", base=args.base, head=args.head)
    with progress(sys.stderr, label) as shown:  # a progress line on stderr when it is a terminal, else nothing
        try:
            snapshot = local_snapshot(args.repo, args.base, args.head, policy, args.pr_title, body, repo_name, issues,
                                      args.gnupghome, lambda done, total: shown.update(label, done, total))  # fmt: skip
            facts = AgreementFacts(statuses=statuses, signed=tuple(signed))
            snapshot = replace(snapshot, agreement_facts=facts)
        except GitError as exc:
            problem = str(exc)
        else:
            shown.update(_phrase("progress_review", commits=len(snapshot.commits)))
            report = review(snapshot, policy)
    if problem is not None:
        return _usage_error(problem)
    if args.format == "json":
        import json

        print(json.dumps(report.to_json(), indent=2))
    elif args.format == "markdown":
        from bot.render import render_comment

        sys.stdout.write(render_comment(report))
    elif args.format in ("sarif", "github"):
        from bot.checks.rules import is_rules_file

        patterns = policy.get("rules_files.patterns")
        changed = sorted((f.path for f in snapshot.files), key=lambda path: not is_rules_file(path, patterns))
        _print_machine_report(report, args.format, changed)
    else:
        sys.stdout.write(_check_text(report, len(snapshot.commits), [f.message for f in policy_findings], _color(args)))
    return EXIT_FINDINGS if report.conclusion == "failure" else EXIT_OK


def _print_machine_report(report: Report, form: str, changed: Sequence[str]) -> None:
    """A review as SARIF (results with no file of their own shown on the first changed file) or as annotations."""
    from bot.formats import github_report, report_sarif

    if form == "github":
        _print_lines(github_report(report))
        return
    import json

    print(json.dumps(report_sarif(report, changed[0] if changed else None), indent=2))


def _print_lines(lines: Sequence[str]) -> None:
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")


def cmd_tags(args: argparse.Namespace) -> int:
    """`tags`: the tags check on the rules the files add or change since --base (HEAD by default, so a pre-commit
    hook judges what the commit changes; outside a git repository every rule counts as new)."""
    from bot.checks.tags import check_tags
    from bot.gitrepo import GitError, LocalRepository
    from bot.models import ChangedFile, PullRequestSnapshot, Report
    from bot.policy import resolve_policy

    try:
        policy_text = _read_text(args.policy) if args.policy else None
    except OSError as exc:
        return _usage_error(_phrase("cannot_read", name=exc.filename, reason=exc.strerror or str(exc)))
    policy, _ = resolve_policy(policy_text)
    files = _read_rules_files(args.files)
    if isinstance(files, int):
        return files
    base_sha, at_base = "", {}
    try:
        local = LocalRepository(".")
        root = str(local.repo.working_tree_dir)
        paths = [os.path.relpath(os.path.abspath(f.name), root).replace(os.sep, "/") for f in files]
        base_sha = local.resolve(args.base or "HEAD")
        at_base = {f.path: f for f in local.files_at(base_sha)}
    except GitError as exc:
        if args.base is not None:
            return _usage_error(str(exc))
        paths = [f.name.replace(os.sep, "/") for f in files]
    changed = tuple(
        ChangedFile(path, "modified" if path in at_base else "added", at_base[path].head_text if path in at_base
                    else None, _text(f.content)) for path, f in zip(paths, files, strict=True)
    )  # fmt: skip
    patterns = policy.get("rules_files.patterns")
    from bot.checks.rules import is_rules_file

    others = tuple(f for p, f in at_base.items() if p not in paths and is_rules_file(p, patterns))
    snapshot = PullRequestSnapshot("local/repository", None, "", "", None, args.base or "HEAD", args.base or "HEAD",
                                   base_sha, "", files=changed, rules_files_at_head=changed + others)  # fmt: skip
    result = check_tags(snapshot, policy.check("tags"), policy.get("rules_files"), policy.get("attack"))
    report = Report(snapshot.repo, None, base_sha, "", (result,))
    if args.format in ("sarif", "github"):
        _print_machine_report(report, args.format, paths)
    else:
        sys.stdout.write(_tags_text(result))
    return EXIT_FINDINGS if report.conclusion == "failure" else EXIT_OK


def _tags_text(result: CheckResult) -> str:
    from bot.render import phrases

    t = phrases("integrations.yml")["tags"]
    out = []
    for f in result.findings:
        key = "finding" if f.line else "finding_no_position"
        out.append(t[key].format(path=f.file, line=f.line, column=f.column or 1, severity=f.severity, code=f.code,
                                 message=f.message))  # fmt: skip
        out.extend(t["hint_indent"] + line for line in (f.hint or "").splitlines() if line.strip())
    out.append(t["summary"].format(title=result.title, summary=result.summary))
    return "\n".join(out) + "\n"


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _check_text(report: Report, commits: int, policy_messages: list[str], color: bool = False) -> str:
    from bot.render import render

    text = render("check.txt.j2", report=report, commits=commits, policy_messages=policy_messages)
    if color:
        from bot.termui import paint_check_text

        text = paint_check_text(text)
    return text


def _server_settings() -> Settings | int:
    """The settings from the environment, logging configured (a long-running process: cycles collected again);
    an exit code when they are unusable."""
    import gc

    from bot.logs import configure
    from bot.settings import SettingsError, load_settings

    gc.enable()
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _usage_error(str(exc))
    configure(settings.log_level, settings.log_format)  # LOG_FORMAT=json: one JSON object a line (bot/logs.py)
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    """`serve`: uvicorn on HOST:PORT, with the embedded queue consumer unless REDIS_URL selects scale-out mode
    (then it only verifies and enqueues); refuses to start without a webhook secret."""
    from bot.settings import SettingsError
    from bot.web.server import serve

    settings = _server_settings()
    if isinstance(settings, int):
        return settings
    try:
        serve(settings, args.host, args.port)
    except SettingsError as exc:
        return _usage_error(str(exc))
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    """`worker`: a standalone queue consumer (scale-out mode), until SIGINT or SIGTERM."""
    from bot.jobs import Jobs
    from bot.settings import SettingsError
    from bot.store import Store, StoreError

    settings = _server_settings()
    if isinstance(settings, int):
        return settings
    if not settings.has_app_credentials():
        from bot.render import phrases

        return _usage_error(phrases("review.yml")["server"]["no_credentials"])
    try:
        store = Store(settings.database(), **settings.store_options())
        store.migrate()
        jobs = Jobs(settings, store)
        if settings.metrics_port:  # this process's own /metrics (each worker is a process of its own)
            from bot import metrics

            metrics.watch(store, jobs)
            metrics.serve(settings.metrics_host, settings.metrics_port)
        jobs.run_worker()
    except (SettingsError, StoreError) as exc:
        return _usage_error(str(exc))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    """`doctor`: one line per check of the deployment, with the fix of each problem (bot/doctor.py)."""
    from bot.doctor import main as doctor

    return doctor(args.format)


def cmd_completion(args: argparse.Namespace) -> int:
    """`completion`: the shell's completion script for every command and option of this parser."""
    from bot.termui import completion_script

    sys.stdout.write(completion_script(build_parser(), args.shell))
    return EXIT_OK


COMMANDS = {
    "validate": cmd_validate,
    "check": cmd_check,
    "tags": cmd_tags,
    "matrix": cmd_matrix,
    "serve": cmd_serve,
    "worker": cmd_worker,
    "completion": cmd_completion,
    "doctor": cmd_doctor,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and of `python -m bot`."""
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command](args)


LONG_RUNNING = {"serve", "worker"}  # processes that live for days: their garbage must be collected


def run() -> None:
    """The console script: main(), then a quick exit.

    A short-lived command need not collect cycles nor free every object one by one at interpreter
    shutdown (a validation leaves a few hundred thousand); the output is flushed, then the process ends.
    """
    import gc

    if not LONG_RUNNING.intersection(sys.argv[1:2]):
        gc.disable()  # a one-shot command builds no garbage worth collecting: imports and the run go faster
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        code = code or EXIT_USAGE
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
