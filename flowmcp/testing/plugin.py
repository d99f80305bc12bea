"""flowmcp's pytest plugin (registered when flowmcp is installed): the `flowmcp_session` fixture.

Session-scoped: while a test session uses it, every `flowmcp.testing.spin_step` goes through one
flowmcp server per project root, whose warm worker stays up between tests, so a suite of step
tests pays the start once. Nothing is imported until a test asks for the fixture.
"""

import pytest


@pytest.fixture(scope="session")
def flowmcp_session():
    from flowmcp.testing import SpinSession

    with SpinSession() as session:
        yield session
