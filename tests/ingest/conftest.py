"""Fixtures of the ingest tests that drive real clients."""

from __future__ import annotations

import pytest

from traceview.models import ApiKey, Project


@pytest.fixture
def key(transactional_db):
    """An API key of a fresh project, committed (servers in other threads and processes see
    it), with its raw value as `key.raw`."""
    project = Project.objects.create(name="clients")
    key, raw = ApiKey.issue(project, name="clients")
    key.raw = raw
    return key
