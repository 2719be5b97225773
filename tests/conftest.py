"""Shared fixtures: every test runs in its own empty folder, so default outputs never litter.

Under CI (CI=true) hypothesis runs derandomized, so a red build always reproduces.
"""

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
