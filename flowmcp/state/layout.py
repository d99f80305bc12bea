"""flowmcp's own folders in a project (standard library only: the project's interpreter reads
them too): everything flowmcp keeps lives under STATE_DIR in the project root."""

STATE_DIR = ".flowmcp"  # flowmcp's own files inside the project root
LEDGER_DIR = "runs"  # under STATE_DIR: one file per run flowmcp started (state/ledger.py)
