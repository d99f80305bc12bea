"""Every tool driven with generated arguments — valid, invalid, huge, unicode, NUL, negative,
nested: no crash, no hang, every error carries a message, and the server answers afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from flowmcp.app import App
from flowmcp.server.build import build_server

from .conftest import make_project

CALLS = int(os.environ.get("FLOWMCP_FUZZ_CALLS", "2000"))
CALL_TIMEOUT_S = 120

PARAMETERS = {
    "run": ["flow", "parameters", "tags", "timeout_s", "wait", "with_", "environment"],
    "resume": ["flow", "run", "step", "tags", "timeout_s", "with_", "environment"],
    "get_logs": ["pathspec", "stream", "tail", "head", "pattern"],
    "list_cards": ["pathspec"],
    "spin": ["flow", "step", "run", "task", "artifacts", "artifacts_module", "persist", "timeout_s"],
    "inspect_artifact": ["pathspec", "name", "path"],
    "list_runs": ["flow", "status", "limit", "cursor", "include_spins"],
    "flow_status": ["flow"],
    "run_status": ["pathspec"],
    "cancel_run": ["pathspec"],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),  # any unicode, NUL included
    # huge, built cheaply (drawing 50,000 random characters would make the fuzzer, not the server, slow)
    st.builds(lambda unit, n: unit * n, st.text(min_size=1, max_size=3), st.integers(2000, 50000)),
    st.sampled_from(["params_flow.py", "../params_flow.py", "/etc/passwd", "start", "end", "score",
                     "ParamsFlow", "ParamsFlow/1", "ParamsFlow/1/start", "ParamsFlow/1/start/1", "[0]", ".x",
                     "__import__('os')", "\x00", "-1", "any", "failed", "🚀", "a" * 300]),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=8)


@st.composite
def tool_calls(draw):
    tool = draw(st.sampled_from([*PARAMETERS, "no_such_tool"]))
    names = PARAMETERS.get(tool, ["x"])
    arguments = draw(st.dictionaries(st.one_of(st.sampled_from(names), st.text(max_size=6)), values, max_size=5))
    return tool, arguments


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("fuzz"), "params_flow.py")


def test_generated_calls_never_crash_hang_or_answer_without_a_message(project):
    server = build_server(App.create(project))
    seen = {"calls": 0, "errors": 0}

    @settings(max_examples=CALLS, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(call=tool_calls())
    def check(call):
        tool, arguments = call

        async def go():
            async with Client(server) as client:
                with anyio.fail_after(CALL_TIMEOUT_S):
                    return await client.call_tool(tool, arguments)

        result = anyio.run(go)
        seen["calls"] += 1
        text = "\n".join(c.text for c in result.content if c.type == "text")
        if result.is_error:
            seen["errors"] += 1
            assert text.strip(), (tool, arguments)
            # never the bare SDK message that hides what went wrong
            assert not text.strip().endswith(f"Error executing tool {tool}"), (tool, arguments, text)
            assert "Traceback (most recent call last)" not in text

    check()

    async def still_serving():
        async with Client(server) as client:
            return await client.call_tool("list_runs", {})

    after = anyio.run(still_serving)
    assert not after.is_error and "params_flow.py" in after.content[0].text
    print(f"fuzzed {seen['calls']} calls, {seen['errors']} answered is_error, all with a message")
    assert seen["calls"] >= CALLS
