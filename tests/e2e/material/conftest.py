import pytest


@pytest.fixture(autouse=True)
def services_keep_their_files_in_tmp(monkeypatch, tmp_path):
    """The embedded services read their own settings from the environment: keep their
    databases and files in the test's folder, not in the working directory."""
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
