"""The judge's write side: its configuration, which runs it is asked about, the monthly spend
cap, and asking it (prompt, call, checks, record).

The rules' Diagnosis is never read for the answer nor written here: the judge reads the run,
gives its own verdict and stores it beside the rules' one. Every cost is recorded per call from
the reply's `usage`, and the cap is checked before each call against what was spent this month
plus what calls in flight may still cost, so concurrent workers cannot overrun it together.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from traceview.agents.pricing import Price, price_for, prices_load, step_cost
from traceview.classify.engine import FALLBACK_RULE
from traceview.classify.engine import Diagnosis as Verdict
from traceview.core.models import Invocation, Project
from traceview.core.queries import invocation_canonical
from traceview.core.trace import InvocationData
from traceview.judge.check import answer_check
from traceview.judge.client import JudgeRefused, JudgeUnavailable, chat_complete
from traceview.judge.models import JudgeSpend, JudgeVerdict
from traceview.judge.prompt import JudgePrompt, clip, messages_token_bound, prompt_build

log = logging.getLogger(__name__)

JUDGE_TASK = "traceview.judge.tasks.judge_invocation"
# A pending verdict whose task has not been heard of for this long is taken as abandoned (its
# worker died): another request may claim it, and its reservation stops counting.
CLAIM_STALE = timedelta(minutes=15)
# The longest a task waits before asking again (a 429's Retry-After included); past it, the
# verdict is recorded as failed.
MAX_RETRY_WAIT_S = 600.0
RETRY_BACKOFF_S = 5.0
FINAL_STATUSES = ("done", "unusable")
# What of a rejected answer goes back to the model with the problems it had.
RETRY_ECHO_CHARS = 2_000
CENT = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class JudgeConfig:
    url: str
    model: str
    api_key: str
    all_projects: bool
    caps: dict[str, Decimal | None]  # project name -> its own monthly cap, None: the default
    cap_usd: Decimal
    price: Price | None  # configured per-token price, else the model price table's
    below_confidence: float
    max_prompt_chars: int
    max_output_tokens: int
    timeout_s: float


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number >= 0 else None


def judge_config() -> JudgeConfig | None:
    """The judge's configuration from the environment (traceview.settings), or None when no
    endpoint or no model is set: then the judge is off everywhere."""
    if not settings.TRACEVIEW_JUDGE_URL or not settings.TRACEVIEW_JUDGE_MODEL:
        return None
    caps: dict[str, Decimal | None] = {}
    all_projects = False
    for entry in settings.TRACEVIEW_JUDGE_PROJECTS:
        name, _, cap = entry.strip().partition("=")
        name = name.strip()
        if name == "*":
            all_projects = True
        elif name:
            caps[name] = _decimal(cap) if cap else None
    price = None
    price_in = _decimal(settings.TRACEVIEW_JUDGE_PRICE_INPUT)
    price_out = _decimal(settings.TRACEVIEW_JUDGE_PRICE_OUTPUT)
    if price_in is not None and price_out is not None:
        price = Price("*", date.min, price_in, price_out)
    return JudgeConfig(
        url=settings.TRACEVIEW_JUDGE_URL,
        model=settings.TRACEVIEW_JUDGE_MODEL,
        api_key=settings.TRACEVIEW_JUDGE_API_KEY,
        all_projects=all_projects,
        caps=caps,
        cap_usd=_decimal(settings.TRACEVIEW_JUDGE_MONTHLY_CAP_USD) or Decimal(0),
        price=price,
        below_confidence=settings.TRACEVIEW_JUDGE_BELOW_CONFIDENCE,
        max_prompt_chars=settings.TRACEVIEW_JUDGE_MAX_PROMPT_CHARS,
        max_output_tokens=settings.TRACEVIEW_JUDGE_MAX_OUTPUT_TOKENS,
        timeout_s=settings.TRACEVIEW_JUDGE_TIMEOUT_S,
    )


def judge_cap(config: JudgeConfig | None, project_name: str | None) -> Decimal | None:
    """The project's monthly cap in dollars, or None when the judge is off for it."""
    if config is None or project_name is None:
        return None
    if project_name in config.caps:
        own = config.caps[project_name]
        return own if own is not None else config.cap_usd
    return config.cap_usd if config.all_projects else None


def judge_enabled(project: Project) -> bool:
    """Whether the judge is on for `project`: no query, the configuration says."""
    return judge_cap(judge_config(), project.name) is not None


def judge_trigger(verdict: Verdict, below_confidence: float) -> str | None:
    """Why the rules' verdict wants a second opinion, or None: a failure that only the fallback
    explained or that the rules are unsure of, or a success whose answer they doubt."""
    if verdict.category:
        if verdict.evidence and verdict.evidence[0].rule == FALLBACK_RULE:
            return "fallback"
        return "low_confidence" if verdict.confidence < below_confidence else None
    return "doubtful" if verdict.doubts else None


def invocation_judge_enqueue(invocation_id: int, trigger: str) -> None:
    """Hand one request to the judge's queue (sent by name: the task module calls services)."""
    current_app.send_task(JUDGE_TASK, args=[invocation_id, trigger])


def invocations_judge_enqueue(verdicts: list[tuple[Invocation, Verdict]]) -> int:
    """After the rules stored their verdicts: ask the judge about the runs it should see, once
    the caller's transaction commits. The rules' verdicts are already written and never wait for
    this; with the judge off it costs nothing. A broker failure is logged, not raised: a missed
    request is one the user can still make from the replay page."""
    config = judge_config()
    if config is None or not (config.all_projects or config.caps):
        return 0
    wanted = [
        (invocation.id, invocation.project_id, trigger)
        for invocation, verdict in verdicts
        if (trigger := judge_trigger(verdict, config.below_confidence))
    ]
    if not wanted:
        return 0
    names = dict(
        Project.objects.filter(id__in={p for _, p, _ in wanted}).values_list("id", "name")
    )
    wanted = [(i, t) for i, p, t in wanted if judge_cap(config, names.get(p)) is not None]

    def publish():
        for invocation_id, trigger in wanted:
            try:
                invocation_judge_enqueue(invocation_id, trigger)
            except Exception:  # noqa: BLE001 - any broker failure
                log.warning("could not ask the judge about invocation %s", invocation_id,
                            exc_info=True)

    if wanted:
        transaction.on_commit(publish)
    return len(wanted)


# --- asking ------------------------------------------------------------------------------------


class JudgeRetry(Exception):
    """The endpoint was unavailable; the verdict stays pending for the caller to retry."""

    def __init__(self, verdict_id: int, reason: str, retry_after: float | None):
        super().__init__(reason)
        self.verdict_id = verdict_id
        self.reason = reason
        self.retry_after = retry_after


def retry_countdown(retry_after: float | None, retries: int) -> float | None:
    """Seconds to wait before the next try: the server's Retry-After when it sent one, else an
    exponential backoff; None when that is past MAX_RETRY_WAIT_S (give up)."""
    backoff = RETRY_BACKOFF_S * 2 ** retries
    wait = max(retry_after, 1.0) if retry_after is not None else backoff
    return None if wait > MAX_RETRY_WAIT_S else wait


def _month(now: datetime) -> date:
    return now.date().replace(day=1)


def _dollars(value: Decimal, rounding=ROUND_HALF_UP) -> Decimal:
    return value.quantize(CENT, rounding=rounding)


def _price(config: JudgeConfig, now: datetime) -> Price | None:
    if config.price is not None:
        return config.price
    return price_for(prices_load(), config.model, now)


def _verdict_update(verdict_id: int, holder: str, **fields) -> bool:
    """Write to a verdict only while `holder` (a request's claim) still holds it."""
    return bool(
        JudgeVerdict.objects.filter(id=verdict_id, claim=holder).update(
            updated_at=timezone.now(), **fields
        )
    )


def _verdict_finish(verdict_id: int, holder: str, status: str, **fields) -> None:
    _verdict_update(verdict_id, holder, status=status, reserved_usd=0, claim="", **fields)


def _spend_reserve(
    verdict: JudgeVerdict, claim: str, bound: Decimal, cap: Decimal
) -> str | None:
    """Hold `bound` dollars of the project's monthly cap for one call; the reason it cannot be
    held, or None. The month's spend row is locked meanwhile, so two workers checking at once
    see each other's holds."""
    now = timezone.now()
    month = _month(now)
    with transaction.atomic():
        JudgeSpend.objects.get_or_create(project_id=verdict.project_id, month=month)
        spend = JudgeSpend.objects.select_for_update().get(
            project_id=verdict.project_id, month=month
        )
        held = (
            JudgeVerdict.objects.filter(
                project_id=verdict.project_id, status="pending",
                claimed_at__gte=now - CLAIM_STALE,
            )
            .exclude(id=verdict.id)
            .aggregate(total=Sum("reserved_usd"))["total"]
        ) or Decimal(0)
        if spend.spent_usd + held + bound > cap:
            return (
                f"monthly cap of ${cap:.2f} reached: ${spend.spent_usd:.4f} spent and "
                f"${held:.4f} held by calls in flight; this call could cost up to ${bound:.4f}"
            )
        if not _verdict_update(verdict.id, claim, reserved_usd=bound, claimed_at=now):
            return "another request took this verdict over"
    return None


def _spend_record(verdict: JudgeVerdict, tokens: tuple[int, int], cost: Decimal) -> None:
    """Charge one call to the verdict and to the project's month, releasing its hold."""
    prompt_tokens, completion_tokens = tokens
    month = _month(timezone.now())
    with transaction.atomic():
        counters = dict(
            spent_usd=F("spent_usd") + cost, calls=F("calls") + 1,
            prompt_tokens=F("prompt_tokens") + prompt_tokens,
            completion_tokens=F("completion_tokens") + completion_tokens,
        )
        if not JudgeSpend.objects.filter(project_id=verdict.project_id, month=month).update(
            **counters
        ):
            # The month turned while the call ran.
            JudgeSpend.objects.get_or_create(project_id=verdict.project_id, month=month)
            JudgeSpend.objects.filter(project_id=verdict.project_id, month=month).update(
                **counters
            )
        JudgeVerdict.objects.filter(id=verdict.id).update(
            calls=F("calls") + 1, prompt_tokens=F("prompt_tokens") + prompt_tokens,
            completion_tokens=F("completion_tokens") + completion_tokens,
            cost_usd=F("cost_usd") + cost, reserved_usd=0,
        )


def _verdict_claim(invocation: Invocation, digest: str, model: str, version: str, trigger: str,
                   claim: str) -> tuple[JudgeVerdict, bool]:
    """The verdict row of this cache key, and whether this request holds it now. A final
    verdict is never claimed (it is the cached answer); a pending one only when its holder is
    this request (a retry) or has gone silent."""
    now = timezone.now()
    verdict, created = JudgeVerdict.objects.get_or_create(
        invocation=invocation, data_digest=digest, model=model, prompt_version=version,
        defaults=dict(
            project_id=invocation.project_id, data_version=invocation.data_version,
            trigger=trigger, status="pending", claim=claim, claimed_at=now, updated_at=now,
        ),
    )
    if created:
        return verdict, True
    if verdict.status in FINAL_STATUSES:
        JudgeVerdict.objects.filter(id=verdict.id).update(updated_at=now)
        verdict.updated_at = now
        return verdict, False
    claimed = (
        JudgeVerdict.objects.filter(id=verdict.id)
        .exclude(status__in=FINAL_STATUSES)
        .filter(~Q(status="pending") | Q(claim=claim) | Q(claimed_at__lt=now - CLAIM_STALE))
        .update(
            status="pending", claim=claim, claimed_at=now, updated_at=now, trigger=trigger,
            data_version=invocation.data_version, reason="",
        )
    )
    if claimed:
        verdict.refresh_from_db()
    return verdict, bool(claimed)


def invocation_judge(
    invocation_id: int, trigger: str, *, claim: str = "", cap: Decimal | None = None
) -> JudgeVerdict | None:
    """Ask the judge about the invocation's current data and store its verdict; None when the
    judge is off (for the project, unless `cap` is given: evaluate_classifier's own budget).

    A verdict already reached for the same data, model and prompt version is returned as it is
    (the cache: no call). Otherwise, up to two calls: an answer that fails the checks is shown
    its problems and asked once more, then recorded as unusable. Each call is preceded by the
    spend-cap check (a call that would start past the cap is skipped and recorded as such).
    Raises JudgeRetry, the verdict left pending, when the endpoint is unavailable."""
    config = judge_config()
    if config is None:
        return None
    invocation = (
        Invocation.objects.select_related("agent", "project").filter(id=invocation_id).first()
    )
    if invocation is None:
        return None
    if cap is None:
        cap = judge_cap(config, invocation.project.name)
        if cap is None:
            return None
    claim = claim or uuid.uuid4().hex
    canonical = invocation_canonical(invocation)
    prompt = prompt_build(canonical, config.max_prompt_chars)
    verdict, held = _verdict_claim(
        invocation, prompt.digest, config.model, prompt.version, trigger, claim
    )
    if not held:
        return verdict
    price = _price(config, timezone.now())
    if price is None:
        _verdict_finish(
            verdict.id, claim, "skipped",
            reason=f"no price for model {config.model!r}: add it to the model price table or "
                   "set TRACEVIEW_JUDGE_PRICE_INPUT and TRACEVIEW_JUDGE_PRICE_OUTPUT "
                   "(0 for a local model)",
        )
        return _reload(verdict)
    _verdict_answer(verdict, claim, prompt, canonical, config, price, cap)
    return _reload(verdict)


def _verdict_answer(verdict: JudgeVerdict, claim: str, prompt: JudgePrompt,
                    canonical: InvocationData, config: JudgeConfig, price: Price,
                    cap: Decimal) -> None:
    """The calls of one held verdict: at most two, each after the spend-cap check, the second
    only to correct an answer that failed the checks. Records the outcome on the verdict."""
    messages = prompt.messages
    problems: list[dict] = []
    for attempt in (1, 2):
        bound_tokens = messages_token_bound(messages)
        bound = _dollars(
            step_cost(price, bound_tokens, config.max_output_tokens), ROUND_CEILING
        )
        refused = _spend_reserve(verdict, claim, bound, cap)
        if refused:
            _verdict_finish(verdict.id, claim, "skipped", reason=refused, problems=problems)
            return
        try:
            completion = chat_complete(
                config.url, config.model, messages, api_key=config.api_key,
                max_tokens=config.max_output_tokens, timeout_s=config.timeout_s,
            )
        except JudgeUnavailable as exc:
            _verdict_update(
                verdict.id, claim, reserved_usd=0, claimed_at=timezone.now(),
                reason=f"waiting to ask again: {exc.reason}", problems=problems,
            )
            raise JudgeRetry(verdict.id, exc.reason, exc.retry_after) from None
        except JudgeRefused as exc:
            _verdict_finish(verdict.id, claim, "failed", reason=str(exc), problems=problems)
            return
        estimated = completion.prompt_tokens is None or completion.completion_tokens is None
        # A server that reports no usage is charged at the bounds: the cap stays a cap.
        tokens = (
            completion.prompt_tokens if completion.prompt_tokens is not None else bound_tokens,
            completion.completion_tokens if completion.completion_tokens is not None
            else len(completion.content.encode()),
        )
        _spend_record(verdict, tokens, _dollars(step_cost(price, *tokens)))
        checked = answer_check(completion.content, canonical)
        note = "the endpoint reported no token usage: counted at the upper bound" \
            if estimated else ""
        if checked.ok:
            answer = checked.answer
            _verdict_finish(
                verdict.id, claim, "done", reason=note, problems=problems,
                category=answer.category or "", root_span_id=answer.root_step or "",
                confidence=answer.confidence, summary=answer.summary,
                evidence=answer.evidence,
            )
            return
        problems.append({"attempt": attempt, "problems": checked.problems[:20]})
        messages = [
            *prompt.messages,
            {"role": "assistant", "content": clip(completion.content, RETRY_ECHO_CHARS)},
            {"role": "user", "content": (
                "Your answer failed these checks:\n"
                + "\n".join(f"- {p}" for p in checked.problems[:20])
                + "\nAnswer again with one JSON object that passes them."
            )},
        ]
    _verdict_finish(
        verdict.id, claim, "unusable", problems=problems,
        reason="both answers failed the checks",
    )


def _reload(verdict: JudgeVerdict) -> JudgeVerdict:
    verdict.refresh_from_db()
    return verdict


def verdict_give_up(verdict_id: int, claim: str, reason: str) -> None:
    """Record that the endpoint stayed unavailable past the retry policy."""
    _verdict_finish(verdict_id, claim, "failed", reason=reason)
