"""The MCP edge: the server built from the tools (`build`), its transports (`stdio`, `http`), its
resources, prompt and resource completions, the card viewer app and the workflow it teaches.

Kept light: `flowmcp call` imports `server.schemas` without the MCP SDK."""
