"""Failed-spin answers: flowmcp's answer vs the raw CLI output, for the cases in tests/corpus/.

For each case: copy it to a fresh project, record a good run, apply the broken edit, then spin
the step both ways, alternating (`python flow.py --quiet --no-pylint spin STEP` and flowmcp's
`spin` over a live MCP session). Reports characters (and their ratio), whether every expected
fact is in our answer, whether it has a hint (a line saying what to do), and the median latency
ratio; then the same per class (case.json "class"; "earlier" for the cases without one).

    python bench/summaries.py [--rounds 5] [--case NAME] [--show]

Golden answers (tests/corpus/<case>/expected.txt, checked by tests/test_corpus.py) are reviewed
by a person: `--golden NAME` prints the current failure summary next to the stored one;
`--write-golden NAME` saves it, with the record of the same spin — run it only after reading it
(NAME may be "all"). `--write-record NAME|all` saves
the records the bridge answered a case's broken spin with (what tests/test_corpus_replay.py
replays); the golden answer must still match, so a record is never saved with a changed answer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from benchenv import metaflow_env
from mcp import Client, StdioServerParameters

CORPUS = Path(__file__).parent.parent / "tests" / "corpus"
sys.path.insert(0, str(CORPUS.parent.parent))
from tests.corpus_cases import answer_summary, call_of, expects_failure  # noqa: E402


def prepare(case: Path) -> tuple[Path, dict]:
    spec = json.loads((case / "case.json").read_text())
    root = Path(tempfile.mkdtemp(prefix=f"flowmcp-{case.name}-"))
    for path in case.iterdir():
        if path.is_dir():  # a helper package of the case's
            shutil.copytree(path, root / path.name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.name != "case.json":
            shutil.copy(path, root / path.name)
    env = metaflow_env()
    subprocess.run([sys.executable, "flow.py", "--quiet", "--no-pylint", "run"], cwd=root, env=env,
                   check=True, capture_output=True)
    target = root / spec.get("edit_file", "flow.py")
    old, new = spec["edit"]
    source = target.read_text()
    assert old in source, f"{case.name}: edit does not apply"
    target.write_text(source.replace(old, new))
    return root, spec


def cli_call(root: Path, spec: dict) -> tuple[str, float]:
    """The plain CLI doing what the case asks: `spin STEP`, or `run [--name value ...]`."""
    env = metaflow_env()
    if spec.get("tool", "spin") == "run":
        command = ["run"] + [part for k, v in (spec.get("parameters") or {}).items() for part in (f"--{k}", str(v))]
    else:
        command = ["spin", spec["step"]]
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "flow.py", "--quiet", "--no-pylint", *command], cwd=root, env=env,
                         capture_output=True, text=True)
    return out.stdout + out.stderr, time.perf_counter() - started


async def measure(case: Path, rounds: int) -> dict:
    root, spec = prepare(case)
    params = StdioServerParameters(command=sys.executable, args=["-m", "flowmcp", "--root", str(root)],
                                   env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "USER")})
    async with Client(params) as client:
        hinted = []

        async def ours() -> tuple[str, float]:
            started = time.perf_counter()
            result = await client.call_tool(*call_of(spec))
            assert bool(result.is_error) == expects_failure(spec), result.content[0].text
            failure = (result.structured_content or {}).get("failure") or {}
            # a hint: a line that says what to do; a call refused before it ran says only that
            hinted.append(bool(failure.get("hints")) or (bool(result.is_error) and not result.structured_content))
            return result.content[0].text, time.perf_counter() - started

        raw, _ = cli_call(root, spec)  # warm-up both ways
        answer, _ = await ours()
        cli_times, our_times = [], []
        for _ in range(rounds):
            cli_times.append(cli_call(root, spec)[1])
            our_times.append((await ours())[1])
    missing = [fact for fact in spec["facts"] if fact not in answer]
    shutil.rmtree(root, ignore_errors=True)
    return {"case": case.name, "raw": len(raw), "ours": len(answer), "missing": missing, "answer": answer,
            "time_ratio": statistics.median(our_times) / statistics.median(cli_times), "hint": hinted[0],
            "class": spec.get("class") or "earlier"}


async def main(rounds: int, only: str | None, show: bool) -> None:
    cases = sorted(p for p in CORPUS.iterdir() if (p / "case.json").exists() and (only in (None, p.name)))
    rows = [await measure(case, rounds) for case in cases]
    print("| case | raw CLI chars | flowmcp chars | ratio | facts | spin time ratio (flowmcp / CLI) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        facts = "all" if not r["missing"] else "missing " + ", ".join(r["missing"])
        print(f"| {r['case']} | {r['raw']:,} | {r['ours']:,} | {r['ours'] / r['raw']:.1%} | {facts} "
              f"| {r['time_ratio']:.2f} |")
    ratios = [r["ours"] / r["raw"] for r in rows]
    print(f"\nmedian answer/raw: {statistics.median(ratios):.1%}; worst answer: {max(r['ours'] for r in rows):,} chars")
    print("\n| class | cases | facts | hints | median answer/raw | worst answer |\n|---|---|---|---|---|---|")
    for kind in sorted({r["class"] for r in rows}):
        these = [r for r in rows if r["class"] == kind]
        print(f"| {kind} | {len(these)} | {sum(not r['missing'] for r in these)}/{len(these)} "
              f"| {sum(r['hint'] for r in these)}/{len(these)} "
              f"| {statistics.median(r['ours'] / r['raw'] for r in these):.1%} | {max(r['ours'] for r in these):,} |")
    if show:
        for r in rows:
            print(f"\n### {r['case']}\n{r['answer']}")


def golden(name: str, write: bool) -> None:
    """Print a case's answer beside its golden; with `write`, save it as the golden and save the
    bridge's record of the same spin (so the two always agree). NAME may be "all"."""
    sys.path.insert(0, str(CORPUS.parent.parent))
    from tests.corpus_cases import CASES, normalise, spin_broken_case

    for case in CASES if name == "all" else [name]:
        with tempfile.TemporaryDirectory(prefix=f"flowmcp-golden-{case}-") as root:
            text, data, _, record = spin_broken_case(case, Path(root))
        summary = normalise(answer_summary(data, text))
        path = CORPUS / case / "expected.txt"
        stored = path.read_text().rstrip("\n") if path.exists() else None
        print(f"--- {case}: current answer ({len(summary):,} chars)\n{summary}")
        if stored is not None and stored != summary:
            print(f"--- stored golden answer differs:\n{stored}")
        if write:
            path.write_text(summary + "\n")
            (CORPUS / case / "record.json").write_text(record + "\n")
            print(f"--- written to {path}, with the record of the same spin")


def write_record(name: str) -> None:
    sys.path.insert(0, str(CORPUS.parent.parent))
    from tests.corpus_cases import CASES, normalise, spin_broken_case

    for case in CASES if name == "all" else [name]:
        with tempfile.TemporaryDirectory(prefix=f"flowmcp-record-{case}-") as root:
            text, data, _, record = spin_broken_case(case, Path(root))
        summary = normalise(answer_summary(data, text))
        stored = (CORPUS / case / "expected.txt").read_text().rstrip("\n")
        if summary != stored:
            print(f"--- {case}: the answer differs from its golden; record not saved (see --golden {case})")
            continue
        (CORPUS / case / "record.json").write_text(record + "\n")
        print(f"--- {case}: record saved ({len(record):,} chars)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--case")
    parser.add_argument("--show", action="store_true", help="print flowmcp's answer for each case")
    parser.add_argument("--golden", metavar="NAME", help="print a case's failure summary beside its golden file")
    parser.add_argument("--write-golden", metavar="NAME", help="save a case's failure summary as its golden file")
    parser.add_argument("--write-record", metavar="NAME", help="save a case's bridge records (or 'all')")
    args = parser.parse_args()
    if args.write_record:
        write_record(args.write_record)
    elif args.golden or args.write_golden:
        golden(args.golden or args.write_golden, write=bool(args.write_golden))
    else:
        anyio.run(main, args.rounds, args.case, args.show)
