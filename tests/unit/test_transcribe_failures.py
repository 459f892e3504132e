"""How the transcription job reports a failure: for a Private Transcript, never a library's
message (it could quote the words being transcribed), in the stored error or the log."""

from __future__ import annotations

import logging
import uuid

import pytest

from workers.jobs.transcribe import _describe, _log_failure

SECRET = "the words of the meeting"


def _failing() -> RuntimeError:
    return RuntimeError(f"could not align '{SECRET}'\nsecond line")


def test_an_ordinary_failure_says_the_librarys_first_line():
    assert _describe(_failing()) == f"could not align '{SECRET}'"
    assert _describe(ValueError("")) == "ValueError"


def test_a_private_failure_stores_only_the_kind_of_error():
    assert _describe(_failing(), private=True) == "RuntimeError"


@pytest.mark.parametrize("private", [False, True])
def test_a_private_failure_is_logged_without_the_message(caplog, private):
    tid = uuid.uuid4()
    with caplog.at_level(logging.ERROR, logger="verbatim.jobs.transcribe"):
        try:
            raise _failing()
        except RuntimeError:
            _log_failure("transcription of %s failed (attempt %d)", tid, 1, private)
    (record,) = caplog.records
    logged = caplog.text
    assert str(tid) in logged
    if private:
        assert SECRET not in logged and record.exc_info is None
        assert "RuntimeError" in logged
    else:  # the traceback is kept where it is safe to
        assert SECRET in logged and record.exc_info is not None
