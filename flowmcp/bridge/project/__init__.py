"""The half of the bridge that runs inside the project's own interpreter, one module per op family.

flowmcp is not installed there: `bridge/hook/_flowmcp_loader.py` loads this package folder as
`_flowmcp`, and these modules import only the standard library, Metaflow (lazily, through
`..metaflow_compat` for anything private) and flowmcp's other standard-library modules.
"""
