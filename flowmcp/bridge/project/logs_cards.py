"""LOGS and CARDS: a task's logs cleaned and cut, and its cards described, where they live.

A 100 MB log or a card's HTML is read here, in the project's interpreter; only what the answer
needs travels to the server.
"""

import re

from ...summarize import cards as card_summaries
from ...summarize import logs, splits
from ...summarize.text import cut_middle
from .. import metaflow_compat as compat
from ..protocol import MAX_RESOURCE_CHARS, NO_CARD, NO_LOGS, JobError
from . import runs, tasks

MAX_LOG_LINES = 200
MAX_LOG_CHARS = 20000


def op_logs(req):
    """A task's log, cleaned (prefixes, ANSI, progress bars, repeats) and cut here, in the
    project's process: a 100 MB log never travels to the server."""
    compat.any_namespace()
    pathspec, spin = req["pathspec"], bool(req.get("spin"))
    stream = req.get("stream", "stdout")
    if not spin and pathspec.strip("/").count("/") == 2 and req.get("split") is None and not req.get("full"):
        found = tasks.tasks_by_split(pathspec)
        if len(found) > 1:
            return _per_split(pathspec, stream, found)
    task = tasks.open_task(pathspec, spin, req.get("split"))
    lines = _clean_log(task, stream)
    total = len(lines)
    pattern = req.get("pattern")
    if pattern:
        try:
            matcher = re.compile(pattern)
            lines = ["%d: %s" % (i + 1, line) for i, line in enumerate(lines) if matcher.search(line)]
        except re.error:
            lines = ["%d: %s" % (i + 1, line) for i, line in enumerate(lines) if pattern in line]
    if req.get("full"):  # the logs resource: the whole cleaned log, up to a generous bound
        return {"pathspec": task.pathspec, "stream": stream, "total_lines": total, "matched": len(lines),
                "text": cut_middle("\n".join(lines), MAX_RESOURCE_CHARS)}
    split = None if spin else splits.from_metadata(runs.task_meta(task))
    head, tail = req.get("head"), req.get("tail")
    if head is None and tail is None:
        tail = 50
    shown = logs.head_tail(lines, min(head or 0, MAX_LOG_LINES), min(tail or 0, MAX_LOG_LINES))
    body = cut_middle("\n".join(shown), MAX_LOG_CHARS)
    return {"pathspec": task.pathspec, "stream": stream, "total_lines": total, "matched": len(lines),
            "text": body, "split": split}


def _clean_log(task, stream):
    try:
        text = getattr(task, stream) or ""
    except Exception as ex:
        raise JobError(NO_LOGS, "No %s log for %s (%s)." % (stream, task.pathspec, type(ex).__name__))
    return logs.fold_repeats(logs.clean_lines(text))


MAX_SPLIT_ROWS = 12
LAST_LINE_CHARS = 160


def _per_split(pathspec, stream, tasks):
    """A foreach step's log, a line per split: how long each split's log is and how it ends, so
    the agent can ask for the one that matters (get_logs with split=)."""
    rows = []
    for split, task in tasks[:MAX_SPLIT_ROWS]:
        try:
            lines = _clean_log(task, stream)
        except JobError:
            lines = []
        last = next((line for line in reversed(lines) if line.strip()), "")
        rows.append({"split": split, "task": task.pathspec, "lines": len(lines),
                     "last": cut_middle(last.strip(), LAST_LINE_CHARS)})
    return {"pathspec": pathspec, "stream": stream, "total_lines": sum(r["lines"] for r in rows),
            "matched": 0, "text": "", "splits": rows, "total_splits": len(tasks)}


def _card_files(task, spin):
    """[(type, id, hash, html reader)] for a task's cards: spins' from their local folder,
    runs' through Metaflow's card client (any datastore)."""
    if spin:
        return [(kind, None, digest, _reader(path)) for (kind, digest), path in compat.spin_card_files(task.pathspec)]
    from metaflow.cards import get_cards

    try:
        found = get_cards(task)
    except Exception as ex:
        if type(ex).__name__ == "CardNotPresentException":  # Metaflow's way of saying "none"
            return []
        raise
    return [(c.type, c.id, c.hash, c.get) for c in found]


def _reader(path):
    def read():
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    return read


def op_cards(req):
    compat.any_namespace()
    task = tasks.open_task(req["pathspec"], bool(req.get("spin")))
    cards = _card_files(task, bool(req.get("spin")))
    index = req.get("index")
    if index is not None and not req.get("listing"):
        if not 0 <= index < len(cards):
            raise JobError(NO_CARD, "%s has %d card(s); index %d does not exist."
                           % (task.pathspec, len(cards), index))
        return {"pathspec": task.pathspec, "html": cards[index][3]()}
    out, html = [], None
    for i, (kind, card_id, digest, read) in enumerate(cards):
        text = read()
        out.append({"index": i, "type": kind, "id": card_id, "hash": digest,
                    "summary": card_summaries.describe(text)})
        if i == index:
            html = text
    record = {"pathspec": task.pathspec, "cards": out}
    if index is not None:  # the listing, and the chosen card's HTML: view_card in one job
        record["html"] = html
    return record

