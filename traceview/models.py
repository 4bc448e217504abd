"""Every model of the one `traceview` app label, for Django (which imports this module to
register them) and for callers outside the app (ingest, tests, the shell). The models live with
their capability; code inside traceview/ imports them from there, never from here.

Tables are the app label's defaults (`traceview_<model>`), so which module a model lives in never
moves a table or needs a migration.
"""

from traceview.agents.models import ModelPrice, ScopeViolation
from traceview.core.models import (
    Agent,
    ApiKey,
    Diagnosis,
    Invocation,
    InvocationSearch,
    Project,
    Step,
    StepPayload,
)
from traceview.dashboards.models import (
    HourlyRollup,
    InvocationRollup,
    IssueRollup,
    LatencyRollup,
    RollupState,
    ToolRollup,
)
from traceview.triage.models import (
    ISSUE_STATUSES,
    Correction,
    Issue,
    IssueActivity,
    IssueComment,
    IssueInvocation,
    ProjectWebhook,
    WebhookDelivery,
)

__all__ = [
    "ISSUE_STATUSES", "Agent", "ApiKey", "Correction", "Diagnosis", "HourlyRollup", "Invocation",
    "InvocationRollup", "InvocationSearch", "Issue", "IssueActivity", "IssueComment",
    "IssueInvocation", "IssueRollup", "LatencyRollup", "ModelPrice", "Project", "ProjectWebhook",
    "RollupState", "ScopeViolation", "Step", "StepPayload", "ToolRollup", "WebhookDelivery",
]
