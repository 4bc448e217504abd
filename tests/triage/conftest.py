"""Triage fixtures: failed invocations stored and classified through the real pipeline."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.pages_data import store
from tests.triage.data import tool_failure


@pytest.fixture
def fail(project):
    """Store and classify a failing run: fail("t1", version="1.5.0", start=...)."""

    def make(trace_id: str, **kwargs):
        return store(project, tool_failure(trace_id, **kwargs))

    return make


@pytest.fixture
def bob(project):
    u = get_user_model().objects.create_user("bob", password="s3cret-pass!")
    project.members.add(u)
    return u
