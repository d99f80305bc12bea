"""`flowmcp call` without an MCP client: --help (and no tool) lists every tool the server serves
with its purpose and arguments, and the exit statuses; pictures in an answer are written to
files and the answer says where (tests/test_call_pictures.py does it with a real card)."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import anyio
import pytest
from mcp import Client

from flowmcp.app import App
from flowmcp.cli.main import main
from flowmcp.daemon import pictures
from flowmcp.daemon.client import CANCELLED, OK, TOOL_ERROR, USAGE, print_result
from flowmcp.server.build import build_server
from flowmcp.server.schemas import arguments_taken


async def _tools(root):
    async with Client(build_server(App.create(root))) as client:
        return (await client.list_tools()).tools


def _listed(text: str, tools) -> None:
    for tool in tools:
        line = next(line for line in text.splitlines() if line.strip().startswith(tool.name + " "))
        assert len(line.split(tool.name, 1)[1].strip()) > 10, line  # a purpose, not just the name
        assert f"args: {arguments_taken(tool.input_schema) or 'none'}" in text
    for status in (OK, TOOL_ERROR, USAGE, CANCELLED):
        assert f"{status} " in text.split("Exit status:")[1]


def test_call_help_lists_every_tool_with_its_purpose_and_arguments(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["call", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--out PATH" in text and "--json" in text
    _listed(text, anyio.run(_tools, tmp_path))


def test_call_without_a_tool_lists_them_and_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["call"]) == USAGE
    out, err = capsys.readouterr()
    _listed(out, anyio.run(_tools, tmp_path))
    assert "name a tool" in err


def _png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return pictures.PNG_SIGNATURE + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def _image(width: int, height: int) -> dict:
    return {"type": "image", "mimeType": "image/png", "data": base64.b64encode(_png(width, height)).decode()}


def test_an_answers_pictures_are_written_where_asked_and_the_answer_says_where(tmp_path, capsys):
    answer = {"content": [{"type": "text", "text": "a card"}, _image(10, 20)], "structuredContent": {"a": 1}}
    assert print_result(answer, "view_card", False, str(tmp_path / "card.png")) == OK
    assert (tmp_path / "card.png").read_bytes() == _png(10, 20)
    assert capsys.readouterr().out == f"a card\nPicture: {tmp_path / 'card.png'} (PNG 10×20, 0 KB)\n"

    tall = {"content": [_image(10, 20), _image(10, 5)], "isError": False}
    assert print_result(tall, "view_card", True, str(tmp_path / "page.png")) == OK
    out, err = capsys.readouterr()
    assert out.startswith("{") and "page-1.png" in err and "page-2.png" in err  # stdout: the JSON alone
    assert (tmp_path / "page-2.png").read_bytes() == _png(10, 5)


def test_without_out_the_pictures_go_to_a_new_temporary_folder(capsys):
    assert print_result({"content": [_image(3, 4)], "isError": True}, "inspect_artifact", False, None) == TOOL_ERROR
    said = capsys.readouterr().out.strip()
    path = said.split("Picture: ")[1].split(" (")[0]
    assert "flowmcp-inspect_artifact-" in path and Path(path).read_bytes() == _png(3, 4)


def test_out_on_an_answer_without_pictures_says_nothing_was_written(tmp_path, capsys):
    assert print_result({"content": [{"type": "text", "text": "ok"}]}, "doctor", False, str(tmp_path / "x.png")) == OK
    assert "carries no picture" in capsys.readouterr().out and not (tmp_path / "x.png").exists()
