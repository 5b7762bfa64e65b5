import pytest


@pytest.fixture(autouse=True)
def services_keep_their_files_in_tmp(monkeypatch, tmp_path):
    """The embedded services read their own settings from the environment: keep their
    databases in the test's folder, and let the month's eight accounts register and log in."""
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("AUTH_RATE_LIMIT_PER_MINUTE", "100")
