"""Shared fixtures: every test runs in its own empty folder, so default outputs never litter."""

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
