"""Large runs on the replay page: long repeated stretches collapse into one row each (a failed
step is never hidden in one), a stretch opens when one of its steps is the current one, and the
tree arrives in windows whatever the run's size."""

from __future__ import annotations

import re

from tests.pages_data import repeating_run
from traceview.replay.outline import outline_cache_clear, replay_outline


def test_it_collapses_long_repeated_stretches_around_a_failed_step(project):
    inv = repeating_run(project, 1000, fail_at=400)
    outline = replay_outline(inv)
    labels = [g.label for g in outline.groups]
    # root, plan, then search/fetch × 1000 with fetch-400 failed, then answer.
    assert labels == ["steps 3–802: 400 × search → fetch",
                      "steps 805–2,002: 599 × search → fetch"]
    rows = outline.display()
    assert len(rows) == 7  # root, plan, stretch, search-400, fetch-400, stretch, answer
    failed = outline.by_span["fetch-400"]
    assert outline.display_row(failed) == 4 and outline.group_of(failed) is None


def test_it_opens_the_stretch_of_the_current_step(browser_client, project):
    inv = repeating_run(project, 1000, fail_at=400)
    html = browser_client.get(f"/invocations/{inv.id}/").content.decode()
    assert html.count('class="tree-group') == 2
    assert "400 × search → fetch" in html and "599 × search → fetch" in html
    # A step inside the second stretch: that stretch opens, the first stays collapsed.
    html = browser_client.get(f"/invocations/{inv.id}/?step=search-700").content.decode()
    # root, plan, the first stretch, search-400, fetch-400, the 1,198 open steps, answer.
    assert 'data-total="1204"' in html and 'class="tree-group' not in html
    assert 'data-tree-key="1"' in html and 'id="row-1402"' in html
    detail = browser_client.get(f"/invocations/{inv.id}/?step=search-700",
                                HTTP_HX_REQUEST="true", HTTP_HX_TARGET="step-detail")
    body = detail.content.decode()
    assert 'data-tree-key="1"' in body and re.search(r'data-tree-row="\d+"', body)


def test_it_serves_a_100000_step_run_in_windows(browser_client, project):
    inv = repeating_run(project, 49_999, fail_at=30_000)
    outline_cache_clear()
    html = browser_client.get(f"/invocations/{inv.id}/").content.decode()
    assert "100,001 steps" in html or "100001 steps" in html
    assert html.count("<tr ") <= 200
    window = browser_client.get(f"/invocations/{inv.id}/?tree_key=-1&tree_from=0",
                                HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tree-window")
    assert window.status_code == 200 and window.content.decode().count("<tr ") == 7
