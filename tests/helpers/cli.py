"""Run the ``reassembly`` CLI in-process and check its error contract."""

from __future__ import annotations

from typer.testing import CliRunner

from reassembly.cli import app

runner = CliRunner()


def invoke(*args: str):
    """``reassembly ARGS`` in-process; the result's ``output`` holds stdout and stderr."""
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_error(result, *fragments: str) -> None:
    """Exit status 2, a message containing every fragment, and no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)
