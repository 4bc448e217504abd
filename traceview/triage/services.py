"""Triage: failed invocations grouped into issues, worked like Sentry issues.

Write side (services) and the few selectors the triage pages read. The pipeline:

    invocation_classify() stores a diagnosis -> invocation_group() -> Issue (+ webhook delivery)

Grouping is keyed by a fingerprint: project, agent, category and a normalized signature of the
root cause (the tool and its error type, the limit that was hit, the model that overflowed, the
looping call). Messages enter the signature only after `message_normalize()` has taken numbers,
ids, hex, uuids and timestamps out of them, so "timed out after 31s" and "timed out after 30s"
are one issue.

Concurrency: an issue is inserted or fetched (unique fingerprint per project, IntegrityError
recovery); an invocation is linked once (its link row is keyed by the invocation); counters move
with F() expressions; state changes that must happen once (a regression, waking an ignored issue)
claim the row with a conditional UPDATE. Triage actions bump `Issue.version`; a form that sends
the version it was rendered with is refused with `IssueConflict` when someone changed the issue
in between, so no update is silently lost.

Webhooks: a JSON body signed with HMAC-SHA256 over "<timestamp>.<body>", sent as
`X-TraceView-Signature: t=<timestamp>,v1=<hex>`; delivered by `tasks.deliver_webhook`, which
retries with exponential backoff; every attempt's outcome is kept on the WebhookDelivery row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from celery import current_app
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from traceview.core.models import Diagnosis, Invocation, Step
from traceview.core.queries import invocation_canonical
from traceview.core.trace import CATEGORIES, InvocationData, StepData
from traceview.triage.models import (
    Correction,
    Issue,
    IssueActivity,
    IssueComment,
    IssueInvocation,
    ProjectWebhook,
    WebhookDelivery,
)
from traceview.triage.webhook_http import target_check, webhook_post

UNRESOLVED = ("open", "acknowledged")
QUEUES = ("unresolved", *CATEGORIES, "mine", "unassigned", "resolved", "ignored")
SORTS = {"last_seen": "-last_seen", "count": "-times_seen", "first_seen": "-first_seen"}
BULK_ACTIONS = ("assign", "acknowledge", "resolve", "ignore", "reopen")
WEBHOOK_TIMEOUT_S = 10


class IssueConflict(Exception):
    """The issue changed since the form was rendered; `current` is the issue as it is now."""

    def __init__(self, current: Issue):
        super().__init__(f"issue {current.pk} changed (now version {current.version})")
        self.current = current


class DeliveryFailed(Exception):
    """A webhook attempt failed; the task retries it."""


# --- Normalization and fingerprints (pure) -------------------------------------------------------

_NORMALIZERS = [
    (re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}"
            r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        ),
        "<ts>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # Long hex runs (trace ids, hashes, commit shas) with at least one digit and one letter.
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    # Identifiers that mix letters and digits: call_8fK2x, req-41aa9, user4411, msg_01H...
    (re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z][\w-]*?[_-]?[\w-]{4,}\b"), "<id>"),
    (re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?", re.I), "<n>"),
]
_SPACE = re.compile(r"\s+")
SIGNATURE_TEXT_LIMIT = 160


def message_normalize(text: str | None) -> str:
    """A message with the parts that vary between occurrences replaced by placeholders."""
    if not text:
        return ""
    out = str(text)[:2_000]
    for pattern, placeholder in _NORMALIZERS:
        out = pattern.sub(placeholder, out)
    return _SPACE.sub(" ", out).strip()[:SIGNATURE_TEXT_LIMIT]


@dataclass(slots=True)
class RootCause:
    """What the fingerprint reads about an invocation's failure: its diagnosis and root step."""

    category: str
    rule: str = ""
    detail: str = ""
    step_kind: str = ""
    step_name: str = ""
    tool_name: str = ""
    error_type: str = ""
    error_message: str = ""
    model: str = ""


def root_cause_signature(cause: RootCause) -> list[str]:
    """The normalized parts that name a root cause, per category:

    tool: the tool (or failing step) and its error type, else its normalized message;
    budget: the limit hit (the rule's detail, numbers normalized out);
    context: the model whose window overflowed;
    planning: the looping or wrong call (the root step's tool or name).
    """
    rule = cause.rule or "unknown"
    call = cause.tool_name or cause.step_name or cause.step_kind or ""
    if cause.category == "tool":
        error = cause.error_type or message_normalize(cause.error_message)
        if not error and rule in ("engine.fallback", "tool.error_result"):
            error = message_normalize(cause.detail)
        return [rule, call, error]
    if cause.category == "budget":
        return [rule, message_normalize(cause.detail)]
    if cause.category == "context":
        return [rule, cause.model or message_normalize(cause.error_type)]
    return [rule, call]


def fingerprint(agent: str | None, category: str, signature: list[str]) -> str:
    """The grouping key within a project (the project is the other half of the unique key)."""
    raw = json.dumps([agent or "", category, *signature], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_title(cause: RootCause, signature: list[str]) -> str:
    parts = [p for p in signature[1:] if p]
    what = " · ".join(parts) if parts else signature[0]
    return f"{cause.category}: {what}"[:500]


def _natural_key(version: str) -> tuple:
    # Numbers compare as numbers and sort before words at the same position: 1.10 > 1.9,
    # 2.0 > 2.0-rc (as in semver a pre-release part makes a version older only when compared
    # with its own release, which this approximates by ranking numbers above words).
    parts = [p for p in re.split(r"[.\-+_]", version) if p]
    return tuple((1, int(p), "") if p.isdigit() else (0, 0, p.lower()) for p in parts)


def version_key(version: str) -> tuple:
    """A sort key for agent versions: PEP 440 when it parses, else semver-like natural order,
    which falls back to comparing the words as strings."""
    from packaging.version import InvalidVersion, Version

    v = (version or "").strip().removeprefix("v")
    try:
        return (1, Version(v))
    except InvalidVersion:
        return (0, _natural_key(v))


def version_at_least(version: str, floor: str) -> bool:
    """Whether `version` is `floor` or newer. An unknown version counts as newer: nothing says
    the fix is in it."""
    if not version or not floor:
        return True
    a, b = version_key(version), version_key(floor)
    if a[0] != b[0]:
        # Only one side is PEP 440: compare both the natural way rather than by kind.
        a = (0, _natural_key(version.strip().removeprefix("v")))
        b = (0, _natural_key(floor.strip().removeprefix("v")))
    return a >= b


# --- Grouping ------------------------------------------------------------------------------------


def invocation_root_cause(
    invocation: Invocation, diagnosis: Diagnosis, steps: list[StepData] | None = None
) -> RootCause:
    """Read the root step the diagnosis points at (and, for context failures, the model), from
    `steps` when the caller already holds them (the classifier does), else from the database."""
    evidence = diagnosis.evidence or []
    first = evidence[0] if evidence and isinstance(evidence[0], dict) else {}
    cause = RootCause(
        category=diagnosis.category,
        rule=str(first.get("rule") or ""),
        detail=str(first.get("detail") or ""),
    )
    step = None
    if steps is not None:
        step = next((s for s in steps if s.span_id == diagnosis.root_span_id), None)
    elif diagnosis.root_span_id:
        step = (
            Step.objects.filter(invocation=invocation, span_id=diagnosis.root_span_id)
            .only("kind", "name", "tool_name", "error_type", "error_message", "model",
                  "started_at", "seq")
            .first()
        )
    if step is not None:
        cause.step_kind, cause.step_name = step.kind, step.name
        cause.tool_name, cause.model = step.tool_name or "", step.model or ""
        cause.error_type, cause.error_message = step.error_type or "", step.error_message or ""
    if cause.category == "context" and not cause.model and steps is not None:
        cause.model = next((s.model for s in reversed(steps) if s.model), "")
    elif cause.category == "context" and not cause.model:
        # The overflow is often reported on the agent span: the model is the last one called.
        llm = Step.objects.filter(invocation=invocation).exclude(model="").order_by(
            "-started_at", "-seq", "-id"
        )
        cause.model = llm.values_list("model", flat=True).first() or ""
    return cause


def invocation_group(
    invocation_id: int,
    steps: list[StepData] | None = None,
    invocation: Invocation | None = None,
    diagnosis: Diagnosis | None = None,
) -> Issue | None:
    """Put a classified invocation into its issue, creating the issue on first sight. Safe to run
    twice and from several workers at once: the invocation is counted once; reclassified to
    another root cause, it moves; no longer failed, it leaves its issue.

    The classifier passes the invocation (with its agent) and the diagnosis it just wrote, which
    are otherwise read here."""
    if invocation is None or diagnosis is None:
        try:
            invocation = Invocation.objects.select_related("agent", "diagnosis").get(
                id=invocation_id
            )
            diagnosis = invocation.diagnosis
        except (Invocation.DoesNotExist, Diagnosis.DoesNotExist):
            return None
    if not diagnosis.category:
        _invocation_ungroup(invocation_id)
        return None
    cause = invocation_root_cause(invocation, diagnosis, steps)
    signature = root_cause_signature(cause)
    agent_name = invocation.agent.name if invocation.agent else None
    fp = fingerprint(agent_name, cause.category, signature)
    seen_at = invocation.started_at or invocation.created_at
    issue, created = _issue_get_or_create(invocation, cause, signature, fp, seen_at)

    with transaction.atomic():
        try:
            with transaction.atomic():
                IssueInvocation.objects.create(
                    invocation_id=invocation_id, issue=issue,
                    agent_version=invocation.agent_version, seen_at=seen_at,
                )
        except IntegrityError:
            link = IssueInvocation.objects.select_for_update().get(invocation_id=invocation_id)
            if link.issue_id == issue.id:
                return issue
            old = link.issue_id
            IssueInvocation.objects.filter(invocation_id=invocation_id).update(issue=issue)
            Issue.objects.filter(id=old).update(times_seen=F("times_seen") - 1)
        Issue.objects.filter(id=issue.id).update(
            times_seen=F("times_seen") + 1,
            first_seen=Least(F("first_seen"), seen_at),
            last_seen=Greatest(F("last_seen"), seen_at),
        )
        issue.refresh_from_db()
        if created:
            _activity(issue, None, "created", invocation=invocation_id)
            if issue.assignee_id:
                _activity(issue, None, "assigned", assignee=_username(issue.assignee))
            webhook_enqueue(issue, "issue.created")
        # Refreshes the issue itself when it changes it.
        _issue_after_occurrence(issue, invocation, seen_at)
    return issue


def invocations_group(
    items: list[tuple[Invocation, Diagnosis, list[StepData] | None]],
) -> None:
    """Group a batch of just-classified invocations (each with the diagnosis just written and
    its steps) as `invocation_group` does one by one, in a few statements for the lot: the
    batch's issues read in one query, its new links inserted in one statement, one counter
    update per issue. A worker classifies invocations 50 at a time, and grouping them one by one
    was five or six queries a failure.

    New failures take the batch path. A failure classified again (a reclassification, late data)
    whose link already points at its issue has nothing to change (the batch's links are read in
    one query), and one with no link takes the batch path too, so that classifying a batch again
    costs a few statements as well. A failure whose issue changed (its link moves), a failure no
    more (it leaves its issue), and one whose link another worker wrote meanwhile go through
    `invocation_group`, which handles every case."""
    fresh, again = [], []
    for invocation, diagnosis, steps in items:
        if diagnosis.category:
            cause = invocation_root_cause(invocation, diagnosis, steps)
            signature = root_cause_signature(cause)
            agent_name = invocation.agent.name if invocation.agent else None
            fp = fingerprint(agent_name, cause.category, signature)
            (again if invocation.category else fresh).append(
                (invocation, cause, signature, fp))
        elif invocation.category:
            invocation_group(invocation.id, steps=steps, invocation=invocation,
                             diagnosis=diagnosis)
    if not fresh and not again:
        return
    issues = {
        (i.project_id, i.fingerprint): i
        for i in Issue.objects.filter(
            project_id__in={inv.project_id for inv, *_ in fresh + again},
            fingerprint__in={fp for *_, fp in fresh + again},
        )
    }
    if again:
        linked = dict(IssueInvocation.objects.filter(
            invocation_id__in=[inv.id for inv, *_ in again]).values_list("invocation_id",
                                                                          "issue_id"))
        for invocation, cause, signature, fp in again:
            issue = issues.get((invocation.project_id, fp))
            if invocation.id not in linked:
                fresh.append((invocation, cause, signature, fp))
            elif issue is None or linked[invocation.id] != issue.id:
                # Its root cause changed: the one-by-one path moves its link.
                diagnosis, steps = next((d, st) for inv, d, st in items if inv is invocation)
                invocation_group(invocation.id, steps=steps, invocation=invocation,
                                 diagnosis=diagnosis)
    if not fresh:
        return
    created: set[int] = set()
    for invocation, cause, signature, fp in fresh:
        if (invocation.project_id, fp) not in issues:
            seen_at = invocation.started_at or invocation.created_at
            issue, new = _issue_get_or_create(invocation, cause, signature, fp, seen_at)
            issues[(invocation.project_id, fp)] = issue
            if new:
                created.add(issue.id)
    with transaction.atomic():
        links = {
            invocation.id: (invocation, issues[(invocation.project_id, fp)])
            for invocation, _, _, fp in fresh
        }
        inserted = _links_insert([
            (inv.id, issue.id, inv.agent_version, inv.started_at or inv.created_at)
            for inv, issue in links.values()
        ])
        seen: dict[int, list] = {}
        for inv_id in inserted:
            invocation, issue = links[inv_id]
            seen.setdefault(issue.id, []).append(invocation.started_at or invocation.created_at)
        by_id = {issue.id: issue for _, issue in links.values()}
        for issue_id, times in seen.items():
            Issue.objects.filter(id=issue_id).update(
                times_seen=F("times_seen") + len(times),
                first_seen=Least(F("first_seen"), min(times)),
                last_seen=Greatest(F("last_seen"), max(times)),
            )
            issue = by_id[issue_id]
            if issue_id in created:
                issue.refresh_from_db()
                first = next(i for i in inserted if links[i][1].id == issue_id)
                _activity(issue, None, "created", invocation=first)
                if issue.assignee_id:
                    _activity(issue, None, "assigned", assignee=_username(issue.assignee))
                webhook_enqueue(issue, "issue.created")
        for inv_id in inserted:
            invocation, issue = links[inv_id]
            _issue_after_occurrence(issue, invocation, invocation.started_at
                                    or invocation.created_at)
    # Linked by another worker meanwhile: the one-by-one path moves it if it must.
    for inv_id in links.keys() - set(inserted):
        invocation, _ = links[inv_id]
        diagnosis = next(d for inv, d, _ in items if inv.id == inv_id)
        steps = next(st for inv, _, st in items if inv.id == inv_id)
        invocation_group(inv_id, steps=steps, invocation=invocation, diagnosis=diagnosis)


def _links_insert(rows: list[tuple]) -> list[int]:
    """Insert (invocation id, issue id, agent version, seen at) links where the invocation has
    none; the invocation ids inserted. INSERT ... ON CONFLICT DO NOTHING RETURNING (PostgreSQL,
    and SQLite since 3.35): the ORM's bulk_create cannot say which rows a conflict skipped, and
    counting an occurrence twice is what the unique link exists to prevent."""
    if not rows:
        return []
    table = connection.ops.quote_name(IssueInvocation._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    params = [x for inv_id, issue_id, version, seen_at in rows for x in (
        inv_id, issue_id, version or "", connection.ops.adapt_datetimefield_value(seen_at))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (invocation_id, issue_id, agent_version, seen_at) "
            f"VALUES {values} ON CONFLICT (invocation_id) DO NOTHING RETURNING invocation_id",
            params,
        )
        return [row[0] for row in cursor.fetchall()]


def _issue_get_or_create(invocation, cause, signature, fp, seen_at) -> tuple[Issue, bool]:
    """Insert-or-get on the unique (project, fingerprint): the loser of a race gets the
    winner's row (GlitchTip's IssueHash)."""
    existing = _issue_find(invocation.project_id, fp)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            issue = Issue.objects.create(
                project_id=invocation.project_id,
                agent=invocation.agent,
                category=cause.category,
                fingerprint=fp,
                signature=signature,
                title=issue_title(cause, signature),
                culprit=(cause.detail or cause.error_message)[:1_000],
                assignee_id=invocation.agent.owner_id if invocation.agent else None,
                first_seen=seen_at,
                last_seen=seen_at,
            )
            return issue, True
    except IntegrityError:
        return Issue.objects.get(project_id=invocation.project_id, fingerprint=fp), False


def _issue_find(project_id: int, fp: str) -> Issue | None:
    return Issue.objects.filter(project_id=project_id, fingerprint=fp).first()


def _issue_after_occurrence(issue: Issue, invocation: Invocation, seen_at: datetime) -> None:
    """A new occurrence may regress a resolved issue or wake an ignored one. Each transition is
    claimed with a conditional UPDATE, so concurrent workers make it (and notify) once."""
    if issue.status == "resolved":
        if issue.resolved_in_version:
            # Resolved "in version X": failures of older agents are expected, not a regression.
            regressed = version_at_least(invocation.agent_version, issue.resolved_in_version)
        else:
            # A failure that started before the resolution is a late report, not a new failure.
            regressed = issue.resolved_at is None or seen_at >= issue.resolved_at
        if not regressed:
            return
        now = timezone.now()
        claimed = Issue.objects.filter(
            id=issue.id, status="resolved", resolved_in_version=issue.resolved_in_version
        ).update(
            status="open", is_regressed=True, regressed_at=now, resolved_at=None,
            version=F("version") + 1,
        )
        if claimed:
            issue.refresh_from_db()
            _activity(
                issue, None, "regressed", invocation=invocation.id,
                agent_version=invocation.agent_version,
                resolved_in_version=issue.resolved_in_version,
            )
            webhook_enqueue(issue, "issue.regressed")
    elif issue.status == "ignored":
        now = timezone.now()
        wake = Q(ignored_until__isnull=False, ignored_until__lte=now) | Q(
            ignored_until_count__isnull=False, ignored_until_count__lte=F("times_seen")
        )
        claimed = (
            Issue.objects.filter(id=issue.id, status="ignored")
            .filter(wake)
            .update(status="open", ignored_until=None, ignored_until_count=None,
                    version=F("version") + 1)
        )
        if claimed:
            issue.refresh_from_db()
            _activity(issue, None, "unignored", invocation=invocation.id)


def _invocation_ungroup(invocation_id: int) -> None:
    with transaction.atomic():
        link = (
            IssueInvocation.objects.select_for_update().filter(invocation_id=invocation_id).first()
        )
        if link is None:
            return
        link.delete()
        Issue.objects.filter(id=link.issue_id).update(times_seen=F("times_seen") - 1)


# --- Triage actions ------------------------------------------------------------------------------


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _activity(issue: Issue, actor, kind: str, **data) -> IssueActivity:
    return IssueActivity.objects.create(issue=issue, actor=actor, kind=kind, data=data)


def _issue_change(
    issue_id: int, actor, expected_version: int | None, changes: dict, kind: str, **data
) -> Issue:
    """Apply one triage change as a single UPDATE that bumps the version. With
    `expected_version`, the UPDATE only matches the version the user saw (optimistic lock);
    without it (bulk actions, shortcuts) it applies to whatever the row is now, which loses
    nothing because it only writes the fields the action is about."""
    with transaction.atomic():
        qs = Issue.objects.filter(id=issue_id)
        if expected_version is not None:
            qs = qs.filter(version=expected_version)
        if not qs.update(**changes, version=F("version") + 1):
            raise IssueConflict(Issue.objects.get(id=issue_id))
        issue = Issue.objects.select_related("assignee").get(id=issue_id)
        _activity(issue, actor, kind, **data)
    return issue


def issue_assign(issue: Issue, assignee, actor, expected_version: int | None = None) -> Issue:
    """Assign the issue to `assignee` (None: unassign)."""
    return _issue_change(
        issue.id, actor, expected_version, {"assignee": assignee},
        "assigned" if assignee else "unassigned", assignee=_username(assignee),
    )


def issue_acknowledge(issue: Issue, actor, expected_version: int | None = None) -> Issue:
    """Someone is on it: leaves the open queue's "new" state and the regression highlight."""
    return _issue_change(
        issue.id, actor, expected_version, {"status": "acknowledged", "is_regressed": False},
        "acknowledged",
    )


def issue_resolve(
    issue: Issue, actor, in_version: str = "", expected_version: int | None = None
) -> Issue:
    """Mark the issue fixed, optionally in an agent version: a later failure (in that version or
    a newer one, when given) reopens it as regressed."""
    return _issue_change(
        issue.id, actor, expected_version,
        {
            "status": "resolved", "resolved_at": timezone.now(),
            "resolved_in_version": (in_version or "").strip()[:100], "is_regressed": False,
            "ignored_until": None, "ignored_until_count": None,
        },
        "resolved", in_version=(in_version or "").strip()[:100] or None,
    )


def issue_reopen(issue: Issue, actor, expected_version: int | None = None) -> Issue:
    return _issue_change(
        issue.id, actor, expected_version,
        {"status": "open", "resolved_at": None, "resolved_in_version": "",
         "ignored_until": None, "ignored_until_count": None},
        "reopened",
    )


def issue_ignore(
    issue: Issue,
    actor,
    until: datetime | None = None,
    more_times: int | None = None,
    expected_version: int | None = None,
) -> Issue:
    """Ignore for good, until a date, or until it happens `more_times` more times."""
    changes = {
        "status": "ignored", "is_regressed": False, "ignored_until": until,
        "ignored_until_count": F("times_seen") + more_times if more_times else None,
    }
    return _issue_change(
        issue.id, actor, expected_version, changes, "ignored",
        until=until.isoformat() if until else None, more_times=more_times,
    )


def issue_comment(issue: Issue, author, body: str) -> IssueComment:
    """Append a comment (comments never conflict: nothing is overwritten)."""
    body = body.strip()
    if not body:
        raise ValueError("empty comment")
    with transaction.atomic():
        comment = IssueComment.objects.create(issue=issue, author=author, body=body[:10_000])
        _activity(issue, author, "commented", comment=comment.id)
    return comment


def issues_bulk(issues: Iterable[Issue], action: str, actor, **options) -> int:
    """Apply one action to many issues; returns how many changed."""
    if action not in BULK_ACTIONS:
        raise ValueError(action)
    n = 0
    for issue in issues:
        if action == "assign":
            issue_assign(issue, options.get("assignee"), actor)
        elif action == "acknowledge":
            issue_acknowledge(issue, actor)
        elif action == "resolve":
            issue_resolve(issue, actor, options.get("in_version") or "")
        elif action == "ignore":
            issue_ignore(issue, actor, options.get("until"), options.get("more_times"))
        else:
            issue_reopen(issue, actor)
        n += 1
    return n


def issues_wake_expired(projects) -> int:
    """Ignored-until-a-date issues whose date passed go back to the open queue even when they
    did not happen again; one cheap UPDATE that usually matches nothing."""
    now = timezone.now()
    ids = list(
        Issue.objects.filter(project__in=projects, status="ignored", ignored_until__lte=now)
        .values_list("id", flat=True)
    )
    woken = 0
    for issue_id in ids:
        if Issue.objects.filter(id=issue_id, status="ignored", ignored_until__lte=now).update(
            status="open", ignored_until=None, ignored_until_count=None, version=F("version") + 1
        ):
            woken += 1
            IssueActivity.objects.create(
                issue_id=issue_id, kind="unignored", data={"expired": True}
            )
    return woken


# --- Corrections ---------------------------------------------------------------------------------


def invocation_correct(
    invocation: Invocation, author, category: str, root_span_id: str = "", note: str = ""
) -> Correction:
    """Record a triager's category (blank: not a failure) and root step for an invocation, beside
    the machine's diagnosis; the issue it belongs to gets an activity entry."""
    if category and category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if root_span_id and not Step.objects.filter(
        invocation=invocation, span_id=root_span_id
    ).exists():
        raise ValueError(f"no step {root_span_id!r} in this invocation")
    with transaction.atomic():
        correction, _ = Correction.objects.update_or_create(
            invocation=invocation,
            defaults={
                "category": category or "", "root_span_id": root_span_id or "",
                "note": note.strip()[:2_000], "author": author, "updated_at": timezone.now(),
            },
        )
        link = IssueInvocation.objects.filter(invocation=invocation).first()
        if link is not None:
            _activity(
                link.issue, author, "corrected", invocation=invocation.id,
                category=category or None, root_step=root_span_id or None,
            )
    return correction


@dataclass(slots=True)
class AgreementRow:
    category: str  # the triagers' category ("none": not a failure)
    corrections: int
    category_agrees: int
    root_agrees: int
    root_compared: int

    @property
    def category_rate(self) -> float | None:
        return self.category_agrees / self.corrections if self.corrections else None

    @property
    def root_rate(self) -> float | None:
        return self.root_agrees / self.root_compared if self.root_compared else None


def corrections_agreement(projects) -> tuple[list[AgreementRow], AgreementRow]:
    """How often the classifier's current diagnosis agrees with the triagers' corrections, per
    corrected category, with the total."""
    corrections = Correction.objects.filter(invocation__project__in=projects).values_list(
        "category", "root_span_id", "invocation__diagnosis__category",
        "invocation__diagnosis__root_span_id",
    )
    return agreement_rows(corrections.iterator())


def agreement_rows(pairs: Iterable[tuple]) -> tuple[list[AgreementRow], AgreementRow]:
    """Agreement per corrected category, with the total, over (corrected category, corrected
    root, machine category, machine root) rows. Root steps are compared where both sides name
    one and the categories agree."""
    rows = {c: AgreementRow(c, 0, 0, 0, 0) for c in (*CATEGORIES, "none")}
    for category, root, machine_category, machine_root in pairs:
        row = rows[category or "none"]
        row.corrections += 1
        if (category or "") == (machine_category or ""):
            row.category_agrees += 1
            if category and root:
                row.root_compared += 1
                row.root_agrees += root == (machine_root or "")
    total = AgreementRow("all", *(sum(getattr(r, f) for r in rows.values()) for f in (
        "corrections", "category_agrees", "root_agrees", "root_compared")))
    return list(rows.values()), total


def native_invocation(data: InvocationData) -> dict:
    """An invocation as a native-format object (docs/native-format.md), steps included."""

    def ts(value):
        return value.isoformat() if value else None

    def clean(d: dict) -> dict:
        return {k: v for k, v in d.items() if v not in (None, "", {}, [])}

    steps = []
    for s in data.steps:
        step = {
            "span_id": s.span_id, "parent_span_id": s.parent_span_id, "kind": s.kind,
            "name": s.name, "status": s.status, "started_at": ts(s.started_at),
            "ended_at": ts(s.ended_at), "model": s.model, "input_tokens": s.input_tokens,
            "output_tokens": s.output_tokens,
            "cost_usd": float(s.cost_usd) if s.cost_usd is not None else None,
            "finish_reason": s.finish_reason, "input": s.input, "output": s.output,
            "agent_name": s.agent_name, "attributes": s.attributes,
        }
        if s.tool_name or s.tool_arguments is not None or s.tool_result is not None:
            step["tool"] = clean({
                "name": s.tool_name, "call_id": s.tool_call_id, "arguments": s.tool_arguments,
                "result": s.tool_result,
            })
        if s.error_type or s.error_message or s.error_traceback:
            step["error"] = clean({
                "type": s.error_type, "message": s.error_message, "traceback": s.error_traceback,
            })
        steps.append(clean(step))
    out = clean({
        "trace_id": data.trace_id, "agent": data.agent, "agent_version": data.agent_version,
        "name": data.name, "status": data.status, "started_at": ts(data.started_at),
        "ended_at": ts(data.ended_at), "input": data.input, "output": data.output,
        "attributes": data.attributes,
        "input_tokens": data.input_tokens or None, "output_tokens": data.output_tokens or None,
        "cost_usd": float(data.cost_usd) if data.cost_usd else None,
    })
    out["steps"] = steps
    return out


def corrections_export(projects) -> Iterator[str]:
    """Corrections as labelled JSONL (docs/classifier.md, `evaluate_classifier --format
    labelled-jsonl`): one {"trace": <native invocation>, "label": {...}} per line."""
    corrections = (
        Correction.objects.filter(invocation__project__in=projects)
        .select_related("invocation__agent")
        .order_by("invocation_id")
    )
    for correction in corrections.iterator(chunk_size=100):
        data = invocation_canonical(correction.invocation)
        label = {
            "category": correction.category or None,
            "root_step": correction.root_span_id or None,
        }
        # The label's agent is the one responsible for the failure (as in Who&When): the agent
        # that ran the corrected root step, when the trace says which one did.
        root = next((s for s in data.steps if s.span_id == correction.root_span_id), None)
        if root is not None and root.agent_name:
            label["agent"] = root.agent_name
        record = {"trace": native_invocation(data), "label": label}
        yield json.dumps(record, ensure_ascii=False, default=str) + "\n"


# --- Webhooks ------------------------------------------------------------------------------------


def webhook_configure(project, url: str, is_active: bool = True) -> ProjectWebhook:
    """Set the project's webhook URL; the signing secret is made once and kept. Raises
    TargetRefused for a URL whose host resolves to an address it may not reach."""
    target_check(url)
    hook, created = ProjectWebhook.objects.get_or_create(
        project=project,
        defaults={"url": url, "secret": secrets.token_hex(32), "is_active": is_active},
    )
    if not created:
        ProjectWebhook.objects.filter(id=hook.id).update(url=url, is_active=is_active)
        hook.refresh_from_db()
    return hook


def webhook_sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: HMAC-SHA256 of "<timestamp>.<body>". Receivers recompute it
    and reject stale timestamps, so a captured request cannot be replayed later."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_payload(issue: Issue, event: str) -> dict:
    return {
        "event": event,
        "issue": {
            "id": issue.id, "project": issue.project.name, "title": issue.title,
            "category": issue.category,
            "agent": issue.agent.name if issue.agent else None,
            "status": issue.status, "regressed": issue.is_regressed,
            "times_seen": issue.times_seen,
            "first_seen": issue.first_seen.isoformat(), "last_seen": issue.last_seen.isoformat(),
            "resolved_in_version": issue.resolved_in_version or None,
        },
    }


def webhook_enqueue(issue: Issue, event: str) -> WebhookDelivery | None:
    """Record a delivery for the project's active webhook and hand it to a worker after commit."""
    hook = ProjectWebhook.objects.filter(project_id=issue.project_id, is_active=True).first()
    if hook is None:
        return None
    delivery = WebhookDelivery.objects.create(
        webhook=hook, issue=issue, event=event, payload=webhook_payload(issue, event)
    )
    # Sent by name: the task module (triage.tasks) calls back into this one.
    transaction.on_commit(
        lambda: current_app.send_task("traceview.tasks.deliver_webhook", args=[delivery.id])
    )
    return delivery


def webhook_deliver(delivery_id: int) -> WebhookDelivery | None:
    """One attempt at a delivery. Records the outcome; raises DeliveryFailed so the task retries.
    A delivery already delivered is not sent again (a retried or duplicated task)."""
    delivery = (
        WebhookDelivery.objects.select_related("webhook").filter(id=delivery_id).first()
    )
    if delivery is None or delivery.status == "delivered":
        return delivery
    body = json.dumps(
        {**delivery.payload, "delivery": delivery.id}, separators=(",", ":")
    ).encode()
    timestamp = int(time.time())
    status, error = webhook_post(
        delivery.webhook.url, body, timeout=WEBHOOK_TIMEOUT_S,
        headers={
            "Content-Type": "application/json",
            "User-Agent": "TraceView-Webhook/1",
            "X-TraceView-Event": delivery.event,
            "X-TraceView-Delivery": str(delivery.id),
            "X-TraceView-Signature": webhook_sign(delivery.webhook.secret, timestamp, body),
        },
    )
    now = timezone.now()
    ok = status is not None and 200 <= status < 300
    WebhookDelivery.objects.filter(id=delivery.id).update(
        attempts=F("attempts") + 1, last_attempt_at=now, response_status=status,
        last_error="" if ok else error[:2_000],
        status="delivered" if ok else "failed",
        delivered_at=now if ok else None,
    )
    if not ok:
        raise DeliveryFailed(error)
    delivery.refresh_from_db()
    return delivery


# --- Read side for the triage pages --------------------------------------------------------------


def issue_queue(projects, user, queue: str = "unresolved", filters: dict | None = None,
                sort: str = "last_seen") -> QuerySet[Issue]:
    """Issues of one queue: unresolved (open and acknowledged), a category's unresolved, mine,
    unassigned, resolved or ignored; optionally one agent's or one owner's."""
    filters = filters or {}
    qs = Issue.objects.filter(project__in=projects).select_related("agent", "assignee", "project")
    if queue in CATEGORIES:
        qs = qs.filter(category=queue, status__in=UNRESOLVED)
    elif queue == "mine":
        qs = qs.filter(assignee=user, status__in=UNRESOLVED)
    elif queue == "unassigned":
        qs = qs.filter(assignee__isnull=True, status__in=UNRESOLVED)
    elif queue in ("resolved", "ignored"):
        qs = qs.filter(status=queue)
    else:
        qs = qs.filter(status__in=UNRESOLVED)
    if agent := filters.get("agent"):
        qs = qs.filter(agent_id=agent)
    if owner := filters.get("owner"):
        qs = qs.filter(assignee__isnull=True) if owner == "none" else qs.filter(assignee_id=owner)
    return qs.order_by(SORTS.get(sort, "-last_seen"), "-id")


def issue_queue_counts(projects, user) -> dict[str, int]:
    """Unresolved issues per category, mine and unassigned: the navigation's numbers."""
    base = Issue.objects.filter(project__in=projects, status__in=UNRESOLVED)
    counts = base.aggregate(
        unresolved=Count("id"),
        mine=Count("id", filter=Q(assignee_id=user.pk)),
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        regressed=Count("id", filter=Q(is_regressed=True)),
        **{c: Count("id", filter=Q(category=c)) for c in CATEGORIES},
    )
    return counts


def issue_versions(issue: Issue) -> list[tuple[str, int]]:
    """Agent versions the issue happened in, newest first, with occurrence counts."""
    rows = issue.occurrences.values("agent_version").annotate(n=Count("invocation_id"))
    out = [(r["agent_version"], r["n"]) for r in rows]
    return sorted(out, key=lambda r: version_key(r[0]), reverse=True)


def issue_samples(issue: Issue, limit: int = 10) -> list[Invocation]:
    """The latest invocations of the issue with their diagnosis and correction."""
    ids = issue.occurrences.order_by("-seen_at").values_list("invocation_id", flat=True)[:limit]
    return list(
        Invocation.objects.filter(id__in=list(ids))
        .select_related("diagnosis", "correction", "correction__author", "agent")
        .order_by("-started_at", "-id")
    )
