"""The incremental workflow: prompts, guardrails (stale state, flow_status), `flowmcp init`, step tests."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.cli import init as flowmcp_init
from flowmcp.server.build import INSTRUCTIONS, build_server
from flowmcp.state.clients import registered_servers

from .conftest import call, make_project

pytestmark = pytest.mark.anyio

PROMPT_ARGUMENTS = {
    "develop_flow": {"goal": "forecast daily sales", "flow": "sales.py"},
    "add_step": {"flow": "sales.py", "step": "features", "purpose": "lagged sales per store"},
    "debug_failure": {"flow": "sales.py", "run": "1718"},
    "test_step": {"flow": "sales.py", "step": "train"},
    "build_card": {"flow": "sales.py", "step": "report"},
}


# ---------------------------------------------------------------------------- prompts


@pytest.mark.parametrize("name", sorted(PROMPT_ARGUMENTS))
async def test_each_prompt_renders_with_its_arguments_and_names_the_tools(client, name):
    arguments = PROMPT_ARGUMENTS[name]
    listed = {p.name: p for p in (await client.list_prompts()).prompts}
    assert {a.name for a in listed[name].arguments} == set(arguments)
    text = (await client.get_prompt(name, arguments)).messages[0].content.text
    for value in arguments.values():
        assert value in text
    assert "$" not in text.replace("$ ", "")  # every placeholder filled
    assert text.index("run(") < text.rindex("spin(") < text.rindex("run(")  # run, spin, then run to record


async def test_build_card_walks_spin_view_adjust_with_the_real_tool_names(client):
    text = (await client.get_prompt("build_card", {"flow": "f.py", "step": "report"})).messages[0].content.text
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert text.index('spin(flow="f.py", step="report")') < text.index("view_card(") < text.index("go back to 3")
    for argument in ("pathspec", "index", "full_page", "width"):
        assert argument in tools["view_card"].input_schema["properties"] and f"{argument}=" in text
    assert "as_image=true" in text and "as_image" in tools["inspect_artifact"].input_schema["properties"]


async def test_optional_prompt_arguments_have_defaults(client):
    text = (await client.get_prompt("debug_failure", {"flow": "f.py"})).messages[0].content.text
    assert "the latest failed one" in text
    text = (await client.get_prompt("develop_flow", {"goal": "g"})).messages[0].content.text
    assert 'run(flow="flow.py")' in text


def test_instructions_carry_the_workflow_in_five_lines():
    steps = [line for line in INSTRUCTIONS.splitlines() if line[:2] in ("1.", "2.", "3.")]
    assert len(INSTRUCTIONS.splitlines()) == 5 and len(steps) == 3
    assert "run(flow) once" in INSTRUCTIONS and "spin(flow, step)" in INSTRUCTIONS


async def test_every_tool_description_says_when_to_use_it(client):
    for tool in (await client.list_tools()).tools:
        assert "Use it" in tool.description, tool.name
    spin = next(t for t in (await client.list_tools()).tools if t.name == "spin")
    assert "call run once" in spin.description


# ---------------------------------------------------------------------------- guardrails


async def test_flow_status_follows_the_workflow_through_run_edit_and_spin(client, project):
    text, status, _ = await call(client, "flow_status", flow="params_flow.py")
    assert status["latest_run"] is None
    assert {s["state"] for s in status["steps"]} == {"unverified"}
    assert status["next_call"].startswith('run(flow="params_flow.py")')
    assert "start [foreach items] → square" in text and "join [join] → score" in text
    assert [p["name"] for p in status["parameters"]] == ["alpha", "count", "fail"]

    _, run, _ = await call(client, "run", flow="params_flow.py")
    _, status, _ = await call(client, "flow_status", flow="params_flow.py")
    assert status["latest_run"]["pathspec"] == run["pathspec"]
    assert {s["state"] for s in status["steps"]} == {"verified"}
    assert status["next_call"].startswith("nothing to do")

    flow = project / "params_flow.py"
    flow.write_text(flow.read_text().replace("self.result = self.total * 2", "self.result = self.total * 3"))
    _, status, _ = await call(client, "flow_status", flow="params_flow.py")
    states = {s["name"]: s["state"] for s in status["steps"]}
    assert states["score"] == "stale" and states["join"] == "verified"
    assert status["next_call"].startswith('spin(flow="params_flow.py", step="score")')

    await call(client, "spin", flow="params_flow.py", step="score")
    _, status, _ = await call(client, "flow_status", flow="params_flow.py")
    score = next(s for s in status["steps"] if s["name"] == "score")
    assert score["state"] == "verified" and score["checked_by"].startswith("spin ")
    # recorded fastest by resume from score: it reuses start, square and join from the run
    assert status["next_call"].startswith(
        f'resume(flow="params_flow.py", run="{run["pathspec"].split("/")[1]}", step="score") — score passed spin')


async def test_spin_warns_when_an_upstream_step_changed_since_its_state_was_made(client, project):
    await call(client, "run", flow="params_flow.py")
    text, data, _ = await call(client, "spin", flow="params_flow.py", step="score")
    assert data["stale_upstream"] == [] and "Stale" not in text
    flow = project / "params_flow.py"
    flow.write_text(flow.read_text().replace("self.items = list(range(self.count))",
                                             "self.items = list(range(self.count + 1))"))
    text, data, _ = await call(client, "spin", flow="params_flow.py", step="score")
    assert data["stale_upstream"] == ["start"]
    assert "Stale parent state: start changed since" in text and "Call run(flow)" in text


async def test_spin_of_a_step_added_after_the_run_says_to_run_first(client, project):
    await call(client, "run", flow="params_flow.py")
    flow = project / "params_flow.py"
    flow.write_text(flow.read_text()
                    .replace("        self.next(self.end)\n\n    @step\n    def end",
                             "        self.next(self.extra)\n\n    @step\n    def extra(self):\n"
                             "        self.next(self.end)\n\n    @step\n    def end"))
    text, _, is_error = await call(client, "spin", flow="params_flow.py", step="extra")
    assert is_error and "did not run in" in text and "call run(flow=...)" in text


# ---------------------------------------------------------------------------- flowmcp init


def _init(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowmcp", "init", "--root", str(root), *args],
                          capture_output=True, text=True)


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_on_an_empty_project_writes_every_client_config(tmp_path):
    out = _init(tmp_path)
    assert out.returncode == 0, out.stderr
    files = _snapshot(tmp_path)
    assert set(files) == {".mcp.json", ".cursor/mcp.json", ".vscode/mcp.json", ".codex/config.toml",
                          "CLAUDE.md", "AGENTS.md"}
    server = json.loads(files[".mcp.json"])["mcpServers"]["flowmcp"]
    assert server["args"][:2] == ["--root", str(tmp_path)] and "--python" in server["args"]
    assert json.loads(files[".vscode/mcp.json"])["servers"]["flowmcp"]["type"] == "stdio"
    assert '[mcp_servers.flowmcp]' in files[".codex/config.toml"]
    assert files["CLAUDE.md"] == files["AGENTS.md"]
    assert "spin(flow, step)" in files["CLAUDE.md"]
    assert "created  .mcp.json" in out.stdout


def test_init_keeps_existing_content_and_a_second_run_changes_nothing(tmp_path):
    (tmp_path / "CLAUDE.md").write_text("# House rules\n\nTabs, never spaces.\n")
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"db": {"command": "pg-mcp"}}, "x": [1]}))
    codex = tmp_path / ".codex" / "config.toml"
    codex.parent.mkdir()
    codex.write_text('model = "o4"\n\n[mcp_servers.db]\ncommand = "pg-mcp"\n')
    assert _init(tmp_path).returncode == 0
    first = _snapshot(tmp_path)
    assert first["CLAUDE.md"].startswith("# House rules\n\nTabs, never spaces.\n")
    config = json.loads(first[".mcp.json"])
    assert config["mcpServers"]["db"] == {"command": "pg-mcp"} and config["x"] == [1]
    assert first[".codex/config.toml"].startswith('model = "o4"\n\n[mcp_servers.db]\ncommand = "pg-mcp"\n')
    again = _init(tmp_path)
    assert _snapshot(tmp_path) == first
    assert again.stdout.count("unchanged") == 6


def test_init_updates_only_between_its_markers(tmp_path):
    assert _init(tmp_path, "--client", "claude").returncode == 0
    claude = tmp_path / "CLAUDE.md"
    claude.write_text("Before.\n" + claude.read_text().replace("## Spin options", "## Old options") + "After.\n")
    assert _init(tmp_path, "--client", "claude").returncode == 0
    text = claude.read_text()
    assert text.startswith("Before.\n") and text.endswith("After.\n")
    assert "## Spin options" in text and "## Old options" not in text
    assert not (tmp_path / "AGENTS.md").exists()


@pytest.mark.parametrize("damage", ["end marker deleted", "block pasted twice", "end before begin"])
def test_init_never_takes_user_text_with_damaged_markers(tmp_path, damage):
    from flowmcp.cli.init import BEGIN, END

    assert _init(tmp_path, "--client", "claude").returncode == 0
    claude = tmp_path / "CLAUDE.md"
    block = claude.read_text()
    damaged = {
        "end marker deleted": "My notes.\n" + block.replace(END, "") + "More of my notes.\n",
        "block pasted twice": block + "Between, mine.\n" + block,
        "end before begin": f"{END}\nMine.\n{BEGIN}\n",
    }[damage]
    claude.write_text(damaged)
    for _ in range(2):  # a second run must not take anything either
        out = _init(tmp_path, "--client", "claude")
        assert out.returncode == 1 and "skipped  CLAUDE.md: its flowmcp markers" in out.stdout, out.stdout
        assert claude.read_text() == damaged


def test_init_skips_a_folder_where_it_would_write_a_file(tmp_path):
    (tmp_path / "CLAUDE.md").mkdir()
    out = _init(tmp_path, "--client", "claude")
    assert out.returncode == 1 and "skipped  CLAUDE.md: it is not a regular file" in out.stdout, out.stdout + out.stderr
    assert (tmp_path / "CLAUDE.md").is_dir() and (tmp_path / ".mcp.json").exists()


def test_init_dry_run_writes_nothing(tmp_path):
    (tmp_path / "CLAUDE.md").write_text("mine\n")
    out = _init(tmp_path, "--dry-run")
    assert out.returncode == 0
    assert _snapshot(tmp_path) == {"CLAUDE.md": "mine\n"}
    assert "would create  .mcp.json" in out.stdout and "would update  CLAUDE.md" in out.stdout


def test_init_never_overwrites_a_config_it_cannot_parse(tmp_path):
    broken = '{"mcpServers": {'  # the user's file, half edited
    (tmp_path / ".mcp.json").write_text(broken)
    out = _init(tmp_path, "--client", "claude")
    assert out.returncode == 1
    assert (tmp_path / ".mcp.json").read_text() == broken
    assert "skipped  .mcp.json: not valid JSON" in out.stdout


@pytest.mark.skipif(not shutil.which("claude"), reason="Claude Code (npm @anthropic-ai/claude-code) not installed")
def test_claude_code_connects_to_the_server_init_registered(tmp_path):
    project = make_project(tmp_path / "project", "params_flow.py")
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text('{"enableAllProjectMcpServers": true}')
    assert _init(project, "--client", "claude").returncode == 0
    out = subprocess.run(["claude", "mcp", "get", "flowmcp"], cwd=project, capture_output=True, text=True,
                         env={"HOME": str(home), "PATH": "/usr/bin:/bin:/usr/local/bin"}, timeout=120)
    assert "Connected" in out.stdout, out.stdout + out.stderr


SKILLS = (Path(".claude/skills/flowmcp/SKILL.md"), Path(".agents/skills/flowmcp/SKILL.md"))


def test_init_skill_installs_where_claude_and_codex_read_skills_and_keeps_the_users_text(tmp_path):
    flowmcp_init.init_project(tmp_path, list(flowmcp_init.CLIENTS), skill=True)
    claude, codex = (tmp_path / path for path in SKILLS)
    assert claude.read_text() == codex.read_text()
    frontmatter = re.match(r"---\n(.*?)\n---\n", claude.read_text(), re.DOTALL).group(1)
    fields = {key: value.strip() for key, _, value in (line.partition(":") for line in frontmatter.splitlines())
              if not key.startswith(" ")}
    # The agent-skills standard: a lowercase name matching its folder, a description of at most 1,024
    assert fields["name"] == claude.parent.name == "flowmcp" and len(fields["description"]) <= 1024

    claude.write_text(claude.read_text().replace("Work in this loop", "Work some other way") + "\nMy own note.\n")
    changes = flowmcp_init.init_project(tmp_path, ["claude"], skill=True)
    assert {c.path.name: c.action for c in changes}["SKILL.md"] == "updated"
    assert "Work in this loop" in claude.read_text() and claude.read_text().endswith("My own note.\n")
    changes = flowmcp_init.init_project(tmp_path, list(flowmcp_init.CLIENTS), skill=True)
    assert {c.action for c in changes} == {"unchanged"}


def test_init_skill_leaves_a_skill_it_did_not_write(tmp_path):
    mine = tmp_path / SKILLS[0]
    mine.parent.mkdir(parents=True)
    mine.write_text("---\nname: flowmcp\ndescription: my own\n---\nMine.\n")
    [change] = [c for c in flowmcp_init.init_project(tmp_path, ["claude"], skill=True) if c.path == mine]
    assert change.action == "skipped" and "did not write" in change.detail
    assert mine.read_text() == "---\nname: flowmcp\ndescription: my own\n---\nMine.\n"


async def _tool_schemas(root: Path) -> dict[str, dict]:
    async with Client(build_server(App.create(root))) as c:
        return {t.name: t.input_schema for t in (await c.list_tools()).tools}


def test_every_command_of_the_skill_is_one_the_tools_accept(tmp_path):
    import anyio

    from flowmcp.server.schemas import usage_problem

    root = make_project(tmp_path / "p", "params_flow.py")
    command, args = flowmcp_init.launch_command(root, None)
    text = flowmcp_init.skill_text(command, args)
    schemas = anyio.run(_tool_schemas, root)
    checked, tool = 0, None
    for line in text.splitlines():
        named = re.search(r" call (\w+) ", line)
        tool = named.group(1) if named else tool
        for arguments in re.findall(r"--args '(\{.*?\})'", line):
            assert tool in schemas, line
            assert usage_problem(tool, schemas[tool], json.loads(arguments)) is None, line
            checked += 1
    assert checked >= 9

    # As written, from another folder: a command an agent copies works.
    shutil.copy(root / "params_flow.py", root / "flow.py")
    status = re.search(r"`(\S.* call flow_status --args '.*?')`", text).group(1)
    out = subprocess.run(status, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    subprocess.run([*command.split(), *args, "daemon", "stop"], capture_output=True, timeout=60)
    assert out.returncode == 0 and "ParamsFlow" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("text, why", [
    ('{"mcpServers": {}, "theme": "dark", "theme": "light"}', "gives the key 'theme' twice"),
    ('{"mcpServers": {}, "budget": 12345678901234567890.5}', "holds the number 12345678901234567890.5"),
    ('{"mcpServers": {}, "eps": 1.0000000000000000001}', "holds the number 1.0000000000000000001"),
])
def test_init_never_rewrites_a_config_it_would_change(tmp_path, text, why):
    config = tmp_path / ".mcp.json"
    config.write_text(text)
    [change] = [c for c in flowmcp_init.init_project(tmp_path, ["claude"]) if c.path == config]
    assert change.action == "skipped" and why in change.detail, change
    assert config.read_text() == text


def test_init_module_refuses_a_foreign_codex_table(tmp_path):
    text = '[mcp_servers.flowmcp]\ncommand = "somebody-else"\n'
    with pytest.raises(ValueError, match="does not start flowmcp"):
        flowmcp_init._toml_server(text, "flowmcp", [])


def test_init_writes_codex_toml_for_a_project_under_a_non_ascii_folder(tmp_path):
    root = tmp_path / "données-🚀"  # JSON's escapes of 🚀 are surrogates, which TOML refuses
    root.mkdir()
    [change] = [c for c in flowmcp_init.init_project(root, ["codex"]) if c.path.name == "config.toml"]
    assert change.action == "created", change
    [entry] = registered_servers(root)
    assert entry.error is None and entry.root == str(root), entry


LINKS_OUT = {  # what a cloned repository can carry: the link, and what it points at outside the project
    "linked file": {"CLAUDE.md": "notes.md", ".mcp.json": "mcp.json"},
    "linked folder": {".claude": "."},
    "dangling link": {".claude/skills/flowmcp/SKILL.md": "SKILL.md"},
}


@pytest.mark.parametrize("form", LINKS_OUT)
def test_init_never_writes_through_a_link_out_of_the_project(tmp_path, capsys, form):
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    (outside / "notes.md").write_text("my notes\n")
    (outside / "mcp.json").write_text("{}")
    for link, target in LINKS_OUT[form].items():
        (project / link).parent.mkdir(parents=True, exist_ok=True)
        (project / link).symlink_to(outside / target)
    before = _snapshot(outside)
    assert flowmcp_init.main(str(project), "claude", False, None, skill=True) == 1
    assert _snapshot(outside) == before and not (outside / "skills").exists()
    out = capsys.readouterr().out
    for link in LINKS_OUT[form]:
        shown = ".claude/skills/flowmcp/SKILL.md" if form == "linked folder" else link
        assert f"skipped  {shown}: it leads out of the project" in out, out
    assert "created  AGENTS.md" not in out and ("created  .mcp.json" in out) == (form != "linked file")


def test_init_keeps_crlf_line_endings(tmp_path):
    for name in ("CLAUDE.md", "AGENTS.md"):
        (tmp_path / name).write_bytes(b"# House rules\r\n\r\nTabs, never spaces.\r\n")
    flowmcp_init.init_project(tmp_path, ["claude", "codex"])
    for name in ("CLAUDE.md", "AGENTS.md"):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"# House rules\r\n\r\nTabs, never spaces.\r\n") and b"flowmcp:end" in data
        assert b"\n" not in data.replace(b"\r\n", b""), name
    assert {c.action for c in flowmcp_init.init_project(tmp_path, ["claude", "codex"])} == {"unchanged"}


CODEX_CONFIGS = {
    "an inline table": 'model = "o4"\nmcp_servers = { db = { command = "pg-mcp" } }  # inline\n',
    "comments and an entry of ours with the user's env": (
        "# Codex settings\n"
        'model = "o4"  # fastest\n\n'
        "[mcp_servers.flowmcp]  # from before the venv moved\n"
        'command = "/old/venv/bin/flowmcp"\n'
        'args = ["--root", "/old"]\n'
        'env = { AWS_PROFILE = "dev" }  # the team account\n\n'
        "[mcp_servers.db]\n"
        'command = "pg-mcp"  # postgres\n'),
}


@pytest.mark.parametrize("case", CODEX_CONFIGS)
def test_init_merges_into_the_users_codex_toml(tmp_path, case):
    import tomllib

    config = tmp_path / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text(CODEX_CONFIGS[case])
    [change] = [c for c in flowmcp_init.init_project(tmp_path, ["codex"]) if c.path == config]
    assert change.action == "updated", change
    text = config.read_text()
    assert all(line.partition("#")[2] in text for line in CODEX_CONFIGS[case].splitlines())  # every comment
    data = tomllib.loads(text)
    assert data["model"] == "o4" and data["mcp_servers"]["db"] == {"command": "pg-mcp"}
    assert data["mcp_servers"]["flowmcp"]["args"][:2] == ["--root", str(tmp_path)]
    if "env" in CODEX_CONFIGS[case]:
        assert data["mcp_servers"]["flowmcp"]["env"] == {"AWS_PROFILE": "dev"}
    assert {c.action for c in flowmcp_init.init_project(tmp_path, ["codex"])} == {"unchanged"}


# ---------------------------------------------------------------------------- flowmcp.testing


STEP_TEST = '''
import pytest
from flowmcp.testing import StepFailed, spin_step


def test_score_doubles_the_total():
    result = spin_step("params_flow.py", "score", artifacts={"total": 21})
    assert result["result"] == 42
    assert "result is 42" in result.stdout


def test_score_takes_any_python_object():
    from fractions import Fraction
    assert spin_step("params_flow.py", "score", artifacts={"total": Fraction(1, 3)})["result"] == Fraction(2, 3)


def test_a_failing_step_raises_with_the_summary():
    with pytest.raises(StepFailed, match="params_flow.py:27 in score — ValueError: refusing to score"):
        spin_step("params_flow.py", "score", artifacts={"fail": True})
'''


def test_flowmcp_testing_spins_steps_from_a_real_pytest_run(tmp_path):
    project = make_project(tmp_path / "project", "params_flow.py")
    subprocess.run([sys.executable, "params_flow.py", "--quiet", "--no-pylint", "run"], cwd=project, check=True,
                   capture_output=True)
    (project / "test_steps.py").write_text(STEP_TEST)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_steps.py"],
                         cwd=project, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "3 passed" in out.stdout


async def test_spin_lists_the_card_the_step_rendered(tmp_path):
    project = make_project(tmp_path / "cards", "card_flow.py")
    async with Client(build_server(App.create(project))) as c:
        await call(c, "run", flow="card_flow.py")
        text, data, is_error = await call(c, "spin", flow="card_flow.py", step="report")
    assert not is_error, text
    (card,) = data["cards"]
    assert f"Card: {card}" in text
    html = (project / card).read_text()
    data = re.search(r'__MF_DATA__\[[^\]]*\]\s*=\s*"([^"]+)"', html).group(1)  # the card's content, base64
    assert "# n is 3" in base64.b64decode(data).decode()


# ---------------------------------------------------------------------------- completion, logging


async def test_prompt_arguments_complete_from_flow_files_steps_and_runs(client, project):
    from mcp.types import PromptReference

    ref = PromptReference(type="ref/prompt", name="debug_failure")
    flows = await client.complete(ref, {"name": "flow", "value": "par"})
    assert flows.completion.values == ["params_flow.py"]
    steps = await client.complete(PromptReference(type="ref/prompt", name="add_step"), {"name": "step", "value": "s"},
                                  context_arguments={"flow": "params_flow.py"})
    assert steps.completion.values == ["start", "square", "score"]
    _, run, _ = await call(client, "run", flow="params_flow.py")
    runs = await client.complete(ref, {"name": "run", "value": ""}, context_arguments={"flow": "params_flow.py"})
    assert runs.completion.values == [run["pathspec"].split("/")[1]]


@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
async def test_logging_set_level_is_accepted(project):
    import logging

    logger = logging.getLogger("flowmcp")
    try:
        async with Client(build_server(App.create(project)), mode="legacy") as c:
            await c.set_logging_level("debug")
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(logging.NOTSET)


def test_the_session_fixture_keeps_one_warm_worker_for_every_spin_step(tmp_path):
    """`flowmcp_session` (registered by installing flowmcp) serves every spin_step of the test
    session from one server: one warm worker, started once, gone when the session ends."""
    project = make_project(tmp_path / "project", "params_flow.py")
    subprocess.run([sys.executable, "params_flow.py", "--quiet", "--no-pylint", "run"], cwd=project, check=True,
                   capture_output=True)
    (project / "conftest.py").write_text(textwrap.dedent('''
        import atexit
        import gc

        import pytest


        @pytest.fixture(autouse=True, scope="session")
        def _one_server_for_the_session(flowmcp_session):
            yield flowmcp_session


        @atexit.register
        def _frozen_at_exit():  # registered before flowmcp.testing's handler: runs after it
            open("frozen_at_exit", "w").write(str(gc.get_freeze_count()))
    '''))
    (project / "test_steps.py").write_text(STEP_TEST + textwrap.dedent('''

        def test_every_call_went_through_the_session_and_its_one_warm_worker(flowmcp_session):
            [app] = flowmcp_session.apps.values()  # the earlier tests' server
            [worker] = app.bridge.warm.workers.values()
            first = spin_step("params_flow.py", "score", artifacts={"total": 1})
            second = spin_step("params_flow.py", "score", artifacts={"total": 2})
            assert first.answer["warm"] and second.answer["warm"], (first.answer.get("path_note"), first.text)
            assert list(app.bridge.warm.workers.values()) == [worker] and worker.alive()
    '''))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_steps.py"],
                         cwd=project, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "4 passed" in out.stdout
    assert int((project / "frozen_at_exit").read_text()) > 10_000  # the exit left the server's stack alone
    workers = subprocess.run(["pgrep", "-f", f"{project}/.flowmcp/workers"], capture_output=True, text=True)
    assert workers.stdout.strip() == "", "the session's warm worker outlived the test session"
