"""The incremental workflow as MCP prompts, read from the editable texts in `prompts/`, and the
Agent Skill (`templates/SKILL.md.template`): the one text `flowmcp init --skill` writes and the
server serves over MCP."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from string import Template
from typing import Annotated

from mcp.server.mcpserver.prompts.base import UserMessage
from pydantic import Field

from ..state.config import find_interpreter

PROMPTS_DIR = Path(__file__).parent.parent / "prompts"  # the repository's prompts/, shipped in the package
TEMPLATES_DIR = Path(__file__).parent.parent / "templates"


def render(name: str, **values: str) -> str:
    """A prompt text with its $placeholders filled; unknown ones stay as written."""
    return Template((PROMPTS_DIR / f"{name}.md").read_text()).safe_substitute(values)


# flowmcp's block in a file it shares with the user (CLAUDE.md, AGENTS.md, SKILL.md)
BEGIN = "<!-- flowmcp:begin (managed by `flowmcp init`; edit outside these markers) -->"
END = "<!-- flowmcp:end -->"
SKILL_GENERATOR = "generator: flowmcp init --skill"


def agent_rules() -> str:
    """The CLAUDE.md / AGENTS.md rules that `flowmcp init` installs."""
    return (TEMPLATES_DIR / "CLAUDE.md.template").read_text()


def launch_command(root: Path, python: str | None, server_options: list[str] | None = None) -> tuple[str, list[str]]:
    """How a client starts flowmcp for this project: our own installed command, the project's
    root and interpreter, all absolute so it works whatever directory the client starts in."""
    command = Path(sys.executable).with_name("flowmcp")
    interpreter, _ = find_interpreter(root, python)
    options = ["--root", str(root), "--python", interpreter, *(server_options or [])]
    if command.exists():
        return str(command), options
    return sys.executable, ["-m", "flowmcp", *options]


def skill_text(command: str, args: list[str]) -> str:
    """The Agent Skill: the workflow, and every tool as a `flowmcp call` command of this project."""
    flowmcp = shlex.join([command, *args])
    template = (TEMPLATES_DIR / "SKILL.md.template").read_text()
    return template.format(flowmcp=flowmcp, begin=BEGIN, end=END)


Flow = Annotated[str, Field(description="Path of the flow's .py file, relative to the project root")]


def develop_flow(
    goal: Annotated[str, Field(description="What the flow should do, in a sentence or two")],
    flow: Annotated[str, Field(description="Path of the flow's .py file to write, relative to the project root")]
    = "flow.py",
) -> list[UserMessage]:
    """Build a new flow step by step: skeleton, data loading, run, then spin and run each step."""
    return [UserMessage(render("develop_flow", goal=goal, flow=flow))]


def add_step(
    flow: Flow,
    step: Annotated[str, Field(description="Name of the new step (a Python identifier)")],
    purpose: Annotated[str, Field(description="What the step should compute or produce")],
) -> list[UserMessage]:
    """Add one step to an existing flow and verify it with spin, then record it with run."""
    return [UserMessage(render("add_step", flow=flow, step=step, purpose=purpose))]


def debug_failure(
    flow: Flow,
    run: Annotated[str | None, Field(description="Run id or Flow/run_id of the failed run; default: the latest "
                                                 "failed one")] = None,
) -> list[UserMessage]:
    """Find a failed step with list_runs, reproduce it with spin, fix it, record it with resume."""
    return [UserMessage(render("debug_failure", flow=flow, run=run or "the latest failed one"))]


def test_step(flow: Flow, step: Annotated[str, Field(description="The step to test, as in its def")],
              ) -> list[UserMessage]:
    """Write a pytest test for one step with flowmcp.testing.spin_step."""
    return [UserMessage(render("test_step", flow=flow, step=step))]


def build_card(flow: Flow, step: Annotated[str, Field(description="The step whose @card to build")],
               ) -> list[UserMessage]:
    """Iterate on a step's Metaflow card with spin and view_card."""
    return [UserMessage(render("build_card", flow=flow, step=step))]


PROMPTS = {
    develop_flow: "Develop a Metaflow flow step by step",
    add_step: "Add a step to a flow",
    debug_failure: "Debug a failed run",
    test_step: "Write a test for one step",
    build_card: "Build a step's card",
}
