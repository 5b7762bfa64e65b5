import pytest


@pytest.fixture(autouse=True)
def services_keep_their_files_in_tmp(monkeypatch, tmp_path):
    """The embedded services read their own settings from the environment: keep their
    databases in the test's folder, and schedule without FSRS's random fuzz so that the test
    can compute the same due times with the library."""
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("DICTIONARY_FSRS_FUZZING", "false")
