"""Log lines go to the stderr of the moment, not to a stream someone has since closed."""
import io
import logging
import sys

import pytest

from duckpipe.engine.live import setup_logging


@pytest.fixture
def root_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_log_lines_follow_the_current_stderr_after_a_stand_in_is_closed(root_logging, capsys, monkeypatch):
    stand_in = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stand_in)       # as an in-process CLI run does
    setup_logging()
    logging.getLogger("duckpipe.test").warning("while swapped")
    seen_swapped = stand_in.getvalue()
    monkeypatch.undo()
    stand_in.close()
    logging.getLogger("duckpipe.test").warning("after the stand-in closed")
    err = capsys.readouterr().err
    assert "while swapped" in seen_swapped
    assert "after the stand-in closed" in err
    assert "Logging error" not in err
