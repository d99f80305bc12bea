"""Record what the real bridge answers for tests/flows/params_flow.py, for the fast tier to replay.

    python -m tests.records.make    # from the repository root; writes tests/records/params_flow.json

Each entry is one bridge call of a real session (run, a failing run, spin, inspect, logs, cards,
listings), with the project root written as <root>. tests/test_tools_fast.py feeds them to the
tools through tests/fakes.py's FakeBridge. Re-record after changing what the project side returns.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import anyio
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from ..fakes import RecordingBridge, dump

HERE = Path(__file__).parent
FLOWS = HERE.parent / "flows"

# (tool, arguments, name of the record): each tool call's bridge answers are saved under its name.
SESSION = [
    ("run", {"flow": "params_flow.py"}, "run_ok"),
    ("run", {"flow": "params_flow.py", "parameters": {"fail": True}}, "run_failed"),
    ("spin", {"flow": "params_flow.py", "step": "score"}, "spin_ok"),
    ("list_runs", {"flow": "params_flow.py"}, "list_runs"),
    ("list_runs", {}, "list_flows"),
    ("flow_status", {"flow": "params_flow.py"}, "flow_status"),
    ("inspect_artifact", {"pathspec": "{run}/start", "name": "items"}, "inspect"),
    ("get_logs", {"pathspec": "{run}/score"}, "logs"),
    ("list_cards", {"pathspec": "{run}/score"}, "cards"),
    ("run_status", {"pathspec": "{run}"}, "run_status"),
]


async def record(root: Path) -> dict:
    app = App.create(root)
    recording = app.bridge = RecordingBridge(app.bridge)
    saved, run = {}, None
    async with Client(build_server(app)) as client:
        for tool, arguments, name in SESSION:
            arguments = {k: v.format(run=run) if isinstance(v, str) else v for k, v in arguments.items()}
            recording.recorded.clear()
            result = await client.call_tool(tool, arguments)
            if name == "run_ok":
                run = result.structured_content["pathspec"]
            saved[name] = json.loads(dump(recording.recorded, root))
    return saved


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="flowmcp-records-"))
    try:
        shutil.copy(FLOWS / "params_flow.py", root / "params_flow.py")
        saved = anyio.run(record, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    (HERE / "params_flow.json").write_text(json.dumps(saved, indent=1) + "\n")
    print(f"recorded {len(saved)} tool calls in {HERE / 'params_flow.json'}")


if __name__ == "__main__":
    main()
