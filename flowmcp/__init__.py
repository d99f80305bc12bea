"""flowmcp: an MCP server that lets coding agents run, spin and inspect Metaflow flows."""

__version__ = "0.2.0"
