"""Read side used by views, the API and the classifier: lists, step trees, canonical loads."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from traceview.models import Invocation, Project, Step, StepPayload
from traceview.trace import InvocationData, StepData

STEP_LIST_FIELDS = (
    "id", "span_id", "parent_span_id", "kind", "name", "started_at", "ended_at", "status",
    "error_type", "error_message", "model", "input_tokens", "output_tokens", "cost_usd",
    "finish_reason", "tool_name", "agent_name", "seq",
)


def invocation_list(projects, filters: dict | None = None) -> QuerySet[Invocation]:
    """Invocations of the given projects, newest first, with the list's filters applied."""
    filters = filters or {}
    qs = Invocation.objects.filter(project__in=projects).select_related("agent", "project")
    if trace_id := filters.get("trace_id"):
        # OTLP ids are stored in lower case; other senders' ids are kept exactly as sent.
        qs = qs.filter(Q(trace_id=trace_id) | Q(trace_id=trace_id.lower()))
    if agent := filters.get("agent"):
        qs = qs.filter(agent__name=agent)
    if status := filters.get("status"):
        qs = qs.filter(status=status)
    if category := filters.get("category"):
        qs = qs.filter(category="" if category == "none" else category)
    return qs.order_by("-created_at", "-id")


def step_list(invocation: Invocation) -> QuerySet[Step]:
    """The light columns of an invocation's steps, in the order they happened."""
    return invocation.steps.only(*STEP_LIST_FIELDS).order_by("started_at", "seq", "id")


def step_tree(steps: list[Step]) -> list[tuple[Step, int]]:
    """Steps in depth-first order with their nesting level; orphans (parent never arrived) are
    shown at the top level rather than hidden."""
    by_span = {s.span_id: s for s in steps}
    children: dict[str, list[Step]] = {}
    roots = []
    for s in steps:
        if s.parent_span_id and s.parent_span_id in by_span and s.parent_span_id != s.span_id:
            children.setdefault(s.parent_span_id, []).append(s)
        else:
            roots.append(s)
    out: list[tuple[Step, int]] = []
    seen: set[str] = set()
    stack = [(s, 0) for s in reversed(roots)]
    while stack:
        step, level = stack.pop()
        if step.span_id in seen:
            continue
        seen.add(step.span_id)
        out.append((step, level))
        for child in reversed(children.get(step.span_id, [])):
            stack.append((child, level + 1))
    # A parent cycle leaves steps unreachable from any root; list them rather than drop them.
    out.extend((s, 0) for s in steps if s.span_id not in seen)
    return out


def agent_depth(steps: list[StepData]) -> int:
    """How deeply agents are nested: 1 for a single agent, 2 when it calls a sub-agent, ..."""
    by_span = {s.span_id: s for s in steps}
    best = 0
    for s in steps:
        if s.kind != "agent":
            continue
        depth, cur, hops = 0, s, 0
        while cur is not None and hops < 10_000:
            if cur.kind == "agent":
                depth += 1
            cur = by_span.get(cur.parent_span_id) if cur.parent_span_id else None
            hops += 1
        best = max(best, depth)
    return best or (1 if steps else 0)


def invocation_canonical(invocation: Invocation) -> InvocationData:
    """Load an invocation with every step and payload as the classifier reads it."""
    steps = list(
        Step.objects.filter(invocation=invocation)
        .prefetch_related(Prefetch("payload", queryset=StepPayload.objects.all()))
        .order_by("started_at", "seq", "id")
    )
    data = InvocationData(
        trace_id=invocation.trace_id,
        agent=invocation.agent.name if invocation.agent else None,
        agent_version=invocation.agent_version or None,
        name=invocation.name or None,
        status=invocation.status,
        started_at=invocation.started_at,
        ended_at=invocation.ended_at,
        input=invocation.input,
        output=invocation.output,
        attributes=invocation.attributes or {},
        input_tokens=invocation.input_tokens,
        output_tokens=invocation.output_tokens,
        cost_usd=invocation.cost_usd,
        budgets=invocation.agent.budgets() if invocation.agent else {},
    )
    for s in steps:
        try:
            p = s.payload
        except StepPayload.DoesNotExist:
            p = StepPayload()
        data.steps.append(
            StepData(
                span_id=s.span_id,
                parent_span_id=s.parent_span_id or None,
                kind=s.kind,
                name=s.name,
                started_at=s.started_at,
                ended_at=s.ended_at,
                status=s.status,
                error_type=s.error_type or None,
                error_message=s.error_message or None,
                error_traceback=p.error_traceback or None,
                model=s.model or None,
                input_tokens=s.input_tokens,
                output_tokens=s.output_tokens,
                cost_usd=s.cost_usd,
                finish_reason=s.finish_reason or None,
                tool_name=s.tool_name or None,
                tool_call_id=s.tool_call_id or None,
                tool_arguments=p.tool_arguments,
                tool_result=p.tool_result,
                input=p.input,
                output=p.output,
                attributes=p.attributes or {},
                events=p.events or [],
                agent_name=s.agent_name or None,
                seq=s.seq,
            )
        )
    return data


def projects_for_user(user) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    return user.projects.all()
