"""Pages: login, the invocation list (filters, search, counts, keyset pages, polling), the replay
page (tree, step detail, running state, deep links, large traces), escaping, project isolation."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import post_native
from tests.pages_data import T0, long_run, store, support_run
from traceview.classify.diagnosis import invocation_classify
from traceview.models import Agent, Invocation, InvocationSearch, Project
from traceview.replay import queries as replay_queries
from traceview.replay.outline import outline_cache_clear
from traceview.replay.queries import invocation_page

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def rows_of(html: str) -> list[str]:
    """Trace ids in the list's rows, in order."""
    return re.findall(r'<div class="muted small">([^<]*)</div></td>', html)


def test_it_requires_login(client, db):
    r = client.get("/")
    assert r.status_code == 302 and r.url.startswith("/login/")
    assert client.get("/invocations/1/").status_code == 302


def test_it_logs_in_with_a_password(client, user):
    r = client.post("/login/", {"username": "alice", "password": "s3cret-pass!"})
    assert r.status_code == 302
    assert client.get("/").status_code == 200


def test_it_lists_invocations_with_status_and_category(browser_client, api, project):
    post_native(api, {"invocations": [{"trace_id": "inv-1", "name": "first run", "status": "error",
                                       "steps": [{"span_id": "t", "kind": "tool",
                                                  "error": "boom", "ended_at": 1767225601}]}]})
    invocation_classify(Invocation.objects.get().id)
    html = browser_client.get("/").content.decode()
    assert "first run" in html and "status-error" in html and "cat-tool" in html
    filtered = browser_client.get("/?category=planning").content.decode()
    assert "first run" not in filtered


def test_it_renders_the_rows_partial_for_htmx_polling(browser_client, api, project):
    post_native(api, {"invocations": [{"trace_id": "inv-2"}]})
    r = browser_client.get("/?status=running", HTTP_HX_REQUEST="true",
                           HTTP_HX_TARGET="invocation-rows")
    html = r.content.decode()
    assert html.lstrip().startswith('<div id="invocation-rows"') and "inv-2" in html
    assert "<html" not in html
    # The first page polls for new invocations with the same filters; later pages do not.
    assert 'hx-trigger="every 5s"' in html and 'hx-get="?status=running"' in html
    assert "HX-Request" in r.headers["Vary"]


def test_it_filters_by_every_field(browser_client, user, project):
    other_project = Project.objects.create(name="beta")
    other_project.members.add(user)
    store(project, support_run(project, "slow-costly", agent="bot-a"))
    cheap = support_run(project, "cheap-quick", agent="bot-b", status="ok")
    cheap.agent_version = "2.0"
    cheap.steps = [cheap.steps[0]]
    cheap.steps[0].model = None
    cheap.ended_at = T0 + timedelta(seconds=1)
    store(project, cheap)
    store(other_project, support_run(other_project, "in-beta", agent="bot-a", status="ok"))

    def listed(query):
        return set(rows_of(browser_client.get("/?" + query).content.decode()))

    assert listed("") == {"slow-costly", "cheap-quick", "in-beta"}
    assert listed(f"project={other_project.id}") == {"in-beta"}
    assert listed("agent=bot-a") == {"slow-costly", "in-beta"}
    assert listed("agent_version=2.0") == {"cheap-quick"}
    assert listed("status=ok") == {"cheap-quick", "in-beta"}
    assert listed("category=tool") == {"slow-costly"}
    assert listed("model=gpt-4o") == {"slow-costly", "in-beta"}
    assert listed("min_cost=0.005") == {"slow-costly", "in-beta"}
    assert listed("min_tokens=1000") == {"slow-costly", "in-beta"}
    assert listed("min_duration_s=5") == {"slow-costly", "in-beta"}
    Invocation.objects.update(created_at=T0)
    Invocation.objects.filter(trace_id="in-beta").update(created_at=T0 - timedelta(days=3))
    assert listed("received_after=2026-11-23T00:00") == {"slow-costly", "cheap-quick"}
    assert listed("received_before=2026-11-23T00:00") == {"in-beta"}


def test_it_searches_names_errors_and_message_content(browser_client, project):
    run = support_run(project, "needle-run", name="refund flow")
    run.steps[4].input = [*run.steps[4].input, {"role": "user", "content": "zebracorn please"}]
    store(project, run)
    store(project, support_run(project, "plain-run", name="ordinary", status="ok"))

    def found(text):
        return set(rows_of(browser_client.get("/", {"q": text}).content.decode()))

    assert found("refund") == {"needle-run"}
    assert found("zebracorn") == {"needle-run"}
    assert found("Unavailable") == {"needle-run", "plain-run"}
    assert found("needle-run") == {"needle-run"}
    assert found("nothing-like-this") == set()


@pytest.mark.parametrize("common", [False, True])
def test_it_searches_a_common_word_by_walking_the_list(browser_client, project, monkeypatch,
                                                       common):
    # Past SEARCH_CANDIDATES matches the list tests each row it walks instead of taking an id
    # list; both must find the same runs, by their document or by their name alone.
    if common:
        monkeypatch.setattr(replay_queries, "SEARCH_CANDIDATES", 1)
    run = support_run(project, "needle-run", name="refund flow")
    run.steps[4].input = [*run.steps[4].input, {"role": "user", "content": "zebracorn please"}]
    store(project, run)
    store(project, support_run(project, "plain-run", name="ordinary", status="ok"))
    store(project, support_run(project, "named-run", name="zebracorn audit", status="ok"))
    Invocation.objects.create(project=project, trace_id="unclassified", name="zebracorn late")

    def found(text):
        return set(rows_of(browser_client.get("/", {"q": text}).content.decode()))

    assert found("zebracorn") == {"needle-run", "named-run", "unclassified"}
    assert found("Unavailable") == {"needle-run", "plain-run", "named-run"}
    assert found("nothing-like-this") == set()


def test_it_finds_the_words_of_a_rewritten_search_document(browser_client, project):
    # On PostgreSQL the document's vector is kept by a trigger: a reclassification that writes a
    # new document must make its new words searchable and its old ones not.
    inv = store(project, support_run(project, "needle-run"))
    InvocationSearch.objects.filter(invocation=inv).update(document="quokkas only")
    assert rows_of(browser_client.get("/", {"q": "quokkas"}).content.decode()) == ["needle-run"]
    assert rows_of(browser_client.get("/", {"q": "Unavailable"}).content.decode()) == []


def test_it_counts_a_filtered_list_over_its_newest_matches_and_says_so(browser_client, project,
                                                                monkeypatch):
    for i in range(3):
        store(project, support_run(project, f"fail-{i}", start=T0 + timedelta(minutes=i)))
    store(project, support_run(project, "ok-run", status="ok", start=T0 + timedelta(minutes=9)))

    def counts_of(html):
        return dict(re.findall(r'cat-(\w+)">[^<]*</span> <span class="n">([\d,+]+)</span>', html))

    html = browser_client.get("/", {"q": "Unavailable"}).content.decode()
    assert "4 matching ·" in html and "counted over" not in html
    assert counts_of(html) == {"planning": "0", "tool": "3", "context": "0", "budget": "0",
                               "none": "1"}
    monkeypatch.setattr(replay_queries, "SAMPLE_CAP", 2)
    html = browser_client.get("/", {"q": "Unavailable"}).content.decode()
    # The newest two matches are the ok run and the last failure; every count is a lower bound.
    assert "2+ matching (per category: counted over the newest 2) ·" in html
    assert counts_of(html) == {"planning": "0+", "tool": "1+", "context": "0+", "budget": "0+",
                               "none": "1+"}
    assert len(rows_of(html)) == 4
    # Any filter the category index does not hold is counted the same way.
    html = browser_client.get("/", {"status": "error"}).content.decode()
    assert "2+ matching (per category: counted over the newest 2) ·" in html
    assert counts_of(html)["tool"] == "2+"
    html = browser_client.get("/").content.decode()
    assert "4 matching ·" in html and counts_of(html)["tool"] == "3"


def test_it_counts_each_category_for_the_current_filter(browser_client, project):
    store(project, support_run(project, "a-fail"))
    store(project, support_run(project, "b-fail", agent="other-bot"))
    store(project, support_run(project, "c-ok", status="ok"))
    html = browser_client.get("/?agent=support-bot&category=planning").content.decode()
    counts = dict(re.findall(r'cat-(\w+)">[^<]*</span> <span class="n">(\d+)</span>', html))
    # The category filter itself is left out, so each count is what choosing it would show.
    assert counts == {"planning": "0", "tool": "1", "context": "0", "budget": "0", "none": "1"}


def test_it_pages_by_keyset_without_gaps_or_repeats(browser_client, project):
    invs = Invocation.objects.bulk_create([
        Invocation(project=project, trace_id=f"t{i:03}", created_at=T0 + timedelta(seconds=i // 3),
                   cost_usd=Decimal(i % 7), input_tokens=i % 5)
        for i in range(130)
    ])
    for sort, key in (("newest", lambda i: (i.created_at, i.id)),
                      ("cost", lambda i: (i.cost_usd, i.id)),
                      ("tokens", lambda i: (i.input_tokens, i.id))):
        seen, pages, cursor = [], [], None
        while True:
            page = invocation_page([project], {}, sort, cursor, size=50)
            pages.append(page)
            seen += [r.trace_id for r in page.rows]
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        expected = [i.trace_id for i in sorted(invs, key=key, reverse=True)]
        assert seen == expected, sort
        back = invocation_page([project], {}, sort, pages[-1].prev_cursor, size=50)
        assert [r.trace_id for r in back.rows] == [r.trace_id for r in pages[-2].rows]
    html = browser_client.get("/").content.decode()
    next_url = re.search(r'id="page-next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    second = browser_client.get("/" + next_url).content.decode()
    assert rows_of(second)[0] == expected_newest(invs)[50]
    assert 'hx-trigger="every 5s"' not in second


def expected_newest(invs):
    return [i.trace_id for i in sorted(invs, key=lambda i: (i.created_at, i.id), reverse=True)]


def test_it_ignores_a_bad_cursor_and_shows_bad_filters(browser_client, project):
    store(project, support_run(project, "r1"))
    html = browser_client.get("/?cursor=garbage&min_cost=lots").content.decode()
    assert "r1" in html and "min_cost" in html and 'class="invalid"' in html


def test_it_shows_the_replay_with_tree_diagnosis_and_selected_step(browser_client, project):
    inv = store(project, support_run(project))
    r = browser_client.get(f"/invocations/{inv.id}/")
    html = r.content.decode()
    assert "tool failure" in html and 'id="jump-root"' in html
    assert html.index("support-bot") < html.index("lookup_order") < html.index("search help")
    # Nothing asked for: the page opens at the root cause.
    assert re.search(r'<tr id="row-2" class="failed root-cause current">', html)
    assert 'data-index="2"' in html and "503 Service Unavailable" in html
    assert 'id="timeline-data" type="application/json"' in html
    assert "evidence-step" in html


def test_it_loads_an_llm_steps_detail_with_messages_diff_and_context(browser_client, project):
    agent_budgets = {"max_tokens": 1000, "max_cost_usd": Decimal("0.01")}
    inv = store(project, support_run(project))
    Agent.objects.filter(id=inv.agent_id).update(**agent_budgets)
    r = browser_client.get(f"/invocations/{inv.id}/?step=llm-2", HTTP_HX_REQUEST="true",
                           HTTP_HX_TARGET="step-detail")
    html = r.content.decode()
    assert html.lstrip().startswith('<section id="step-detail"') and "<html" not in html
    # What was added since the previous model call: the tool call and its result, not the rest.
    diff = html[html.index('class="diff"'):html.index("Messages the model saw")]
    assert diff.count("diff-added") == 2 and "503 Service Unavailable" in diff
    assert "2 messages unchanged" in diff
    assert "Your order has shipped." in html and "stop" in html
    assert "0.9% of 128000 tokens" in html  # (990 + 120) / 128,000
    # Running state: all five steps so far, against the agent's budgets.
    assert "1,986" in html and "/ 1,000" in html and "$0.0068" in html and "/ $0.0100" in html
    nav = dict(re.findall(r'id="(nav-\w+)" class="btn( disabled)?"', html))
    assert nav == {
        "nav-first": "", "nav-prev": "", "nav-next": " disabled", "nav-last": " disabled"
    }
    first = browser_client.get(f"/invocations/{inv.id}/?step=llm-1", HTTP_HX_REQUEST="true",
                               HTTP_HX_TARGET="step-detail").content.decode()
    assert "The first model call" in first and "temperature" in first and "0.2" in first


def test_it_shows_tool_and_retrieval_steps(browser_client, project):
    inv = store(project, support_run(project))

    def detail(span):
        return browser_client.get(f"/invocations/{inv.id}/", {"step": span},
                                  HTTP_HX_REQUEST="true", HTTP_HX_TARGET="step-detail"
                                  ).content.decode()

    tool = detail("tool-1")
    assert '"fields": [\n    "status",' in tool.replace("&quot;", '"')
    assert "HTTPError" in tool and "shop.py" in tool
    retrieval = detail("search-1")
    assert "kb-12" in retrieval and "Orders ship within 2 days." in retrieval
    assert browser_client.get(f"/invocations/{inv.id}/", {"step": "nope"}, HTTP_HX_REQUEST="true",
                              HTTP_HX_TARGET="step-detail").status_code == 404


def test_it_opens_a_deep_link_to_a_step(browser_client, project):
    inv = store(project, support_run(project))
    html = browser_client.get(f"/invocations/{inv.id}/?step=search-1").content.decode()
    assert 'class=" current"' in html and 'data-index="3"' in html


def test_it_sends_a_large_tree_in_windows_and_keeps_queries_flat(browser_client, project):
    inv = long_run(project, 1200)
    html = browser_client.get(f"/invocations/{inv.id}/?step=s1100").content.decode()
    # A window of 200 rows with the current step near its top, in a spacer as tall as all 1,200.
    assert html.count('<tr id="row-') == 200 and 'id="row-1100"' in html
    assert 'data-from="1000"' in html and 'style="height: 33600px"' in html
    assert 'data-tree-row="1100"' in html
    page = browser_client.get(f"/invocations/{inv.id}/?tree_key=-1&tree_from=400",
                              HTTP_HX_REQUEST="true", HTTP_HX_TARGET="tree-window").content.decode()
    assert page.lstrip().startswith('<table class="grid steps tree-window"')
    assert page.count('<tr id="row-') == 200 and 'id="row-400"' in page and 'id="row-599"' in page
    assert 'style="top: 11200px"' in page
    small = long_run(project, 20, trace_id="small")
    counts = []
    for target in (inv, small):
        outline_cache_clear()
        with CaptureQueriesContext(connection) as ctx:
            browser_client.get(f"/invocations/{target.id}/?step=s5")
        counts.append(len(ctx.captured_queries))
        # Stepping on reuses the outline: one query fewer, the step's own rows only.
        with CaptureQueriesContext(connection) as ctx:
            browser_client.get(f"/invocations/{target.id}/?step=s6", HTTP_HX_REQUEST="true",
                               HTTP_HX_TARGET="step-detail")
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[2] and counts[1] == counts[3] < counts[0]


def test_it_polls_a_running_invocation_until_it_ends(browser_client, project):
    inv = store(project, support_run(project, status="running", ended_at=None), classify=False)
    html = browser_client.get(f"/invocations/{inv.id}/").content.decode()
    assert html.count('hx-trigger="every 3s"') == 2
    summary = browser_client.get(f"/invocations/{inv.id}/", HTTP_HX_REQUEST="true",
                                 HTTP_HX_TARGET="invocation-summary").content.decode()
    assert summary.lstrip().startswith('<section id="invocation-summary"') and "every 3s" in summary
    Invocation.objects.filter(id=inv.id).update(status="ok")
    done = browser_client.get(f"/invocations/{inv.id}/", HTTP_HX_REQUEST="true",
                              HTTP_HX_TARGET="step-tree").content.decode()
    assert "every 3s" not in done


def test_it_escapes_everything_that_came_from_a_trace(browser_client, api, project):
    post_native(api, {"invocations": [{"trace_id": XSS, "name": XSS, "agent": XSS,
                                       "agent_version": XSS, "status": "error", "steps": [
        {"span_id": XSS, "name": XSS, "kind": "tool", "model": XSS, "tool": {"name": XSS,
         "arguments": {XSS: XSS}}, "attributes": {XSS: XSS},
         "error": {"type": XSS, "message": XSS}, "ended_at": 1767225601}]}]})
    inv = Invocation.objects.get()
    invocation_classify(inv.id)
    for url in ("/", f"/invocations/{inv.id}/", f"/?q={XSS}"):
        r = browser_client.get(url)
        html = r.content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        # The only script elements are our static files and inert JSON data.
        for tag in re.findall(r"<script[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag


def test_it_shows_only_the_users_projects(browser_client, project):
    other = Project.objects.create(name="other")
    foreign = store(other, support_run(other, "foreign-run"))
    assert "foreign-run" not in browser_client.get("/").content.decode()
    assert "foreign-run" not in browser_client.get(f"/?project={other.id}").content.decode()
    assert browser_client.get(f"/invocations/{foreign.id}/").status_code == 404
    assert browser_client.get(f"/invocations/{foreign.id}/?step=root", HTTP_HX_REQUEST="true",
                              HTTP_HX_TARGET="step-detail").status_code == 404


@pytest.mark.parametrize("path", ["django_htmx/htmx-2.min.js", "vendor/plotly/plotly.min.js",
                                  "traceview/replay.js"])
def test_it_serves_scripts_from_static_files(client, db, path):
    r = client.get(f"/static/{path}")
    assert r.status_code == 200
