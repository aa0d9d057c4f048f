"""Benchmark harness: the engine against libyaml's composer, in process and as whole processes, in one run."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    ROOT / "config" / "upstream" / "falco_rules.yaml",
    ROOT / "config" / "upstream" / "falco-incubating_rules.yaml",
    ROOT / "config" / "upstream" / "falco-sandbox_rules.yaml",
]
GOALS = {"in_process": 4.0, "process": 2.0, "peak_mb": 60.0}


def _interleaved_medians(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each function, run in turn within every repetition (so machine noise hits all alike)."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def in_process(repeat: int) -> dict[str, float]:
    """Median seconds of validate()/load_like_falco() and of yaml.compose on the same three texts."""
    import yaml

    sys.path.insert(0, str(ROOT))
    from bot.rules.engine import RulesFile, load_like_falco, validate

    texts = [f.read_text() for f in FILES]
    files = [RulesFile(f.name, t) for f, t in zip(FILES, texts, strict=True)]
    loader = yaml.CSafeLoader

    def compose() -> None:
        for text in texts:
            list(yaml.compose_all(text, Loader=loader))

    validate(files)  # warm the catalogs once, as a long-running process would
    return _interleaved_medians(
        {"compose": compose, "validate": lambda: validate(files), "falco_mode": lambda: load_like_falco(files)},
        repeat,
    )


def _run_process(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{argv} failed with status {status}")
    return elapsed, usage.ru_maxrss / 1024


def processes(repeat: int) -> dict[str, float]:
    """Median wall time of the whole validate process and of a process that only composes the files.

    The package is byte-compiled first, as an installed package is (PyYAML's own modules are), so that
    neither side pays for compiling source at start-up.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "bot")], check=True)
    names = [str(f) for f in FILES]
    compose_code = (
        "import sys, yaml\n"
        "for name in sys.argv[1:]:\n"
        "    list(yaml.compose_all(open(name).read(), Loader=yaml.CSafeLoader))\n"
    )
    script = Path(sys.executable).with_name("falco-rules-bot")
    entry = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
    )
    ours = [*entry, "validate", *names]
    base = [sys.executable, "-c", compose_code, *names]
    ours_t, base_t, peaks = [], [], []
    for _ in range(repeat):
        t, _ = _run_process(base)
        base_t.append(t)
        t, peak = _run_process(ours)
        ours_t.append(t)
        peaks.append(peak)
    return {"compose_process": statistics.median(base_t), "validate_process": statistics.median(ours_t),
            "peak_mb": max(peaks)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    procs = processes(args.repeat)  # first: children forked from a small harness report their own peak memory
    inproc = in_process(args.repeat)
    ratio_in = inproc["validate"] / inproc["compose"]
    ratio_falco = inproc["falco_mode"] / inproc["compose"]
    ratio_proc = procs["validate_process"] / procs["compose_process"]
    rows = [
        ("in-process validate (every finding) / compose", f"{inproc['validate'] * 1000:.1f} ms / "
         f"{inproc['compose'] * 1000:.1f} ms", f"{ratio_in:.2f}x", f"<= {GOALS['in_process']}x"),
        ("in-process Falco mode (falco-json) / compose", f"{inproc['falco_mode'] * 1000:.1f} ms / "
         f"{inproc['compose'] * 1000:.1f} ms", f"{ratio_falco:.2f}x", f"<= {GOALS['in_process']}x"),
        ("`falco-rules-bot validate` process / compose process", f"{procs['validate_process'] * 1000:.0f} ms / "
         f"{procs['compose_process'] * 1000:.0f} ms", f"{ratio_proc:.2f}x", f"<= {GOALS['process']}x"),
        ("peak RSS of the validate process", f"{procs['peak_mb']:.1f} MB", "", f"<= {GOALS['peak_mb']:.0f} MB"),
    ]  # fmt: skip
    print("| measure | figures | ratio | goal |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    ok = ratio_in <= GOALS["in_process"] and ratio_proc <= GOALS["process"] and procs["peak_mb"] <= GOALS["peak_mb"]
    print(f"\nmedian of {args.repeat} runs each; goals {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
