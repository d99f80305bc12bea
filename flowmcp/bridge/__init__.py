"""The Metaflow bridge: the only code that starts the project's interpreter or knows Metaflow.

Server side: `client.py` (typed calls, one table from error kind to flowmcp error), `jobs.py`
(a job's process, its output and result), `warm.py` (warm workers), `housekeeping.py`.
Both sides: `protocol.py` (ops, records, error kinds) and `metaflow_compat.py` (every private
Metaflow name and on-disk layout). Project side: `project/` (the ops), `capture.py`, `hook/`.

Standard library only, like everything the project's interpreter loads from this package.
"""
