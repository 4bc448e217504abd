"""Every model of the one `traceview` app label, for Django (which imports this module to
register them) and for callers outside the app (ingest, tests, the shell). The models live with
their capability; code inside traceview/ imports them from there, never from here. (`X as X`
marks each name as re-exported.)

Tables are the app label's defaults (`traceview_<model>`), so which module a model lives in never
moves a table or needs a migration.
"""

from traceview.agents.models import ModelPrice as ModelPrice
from traceview.agents.models import ScopeViolation as ScopeViolation
from traceview.core.models import Agent as Agent
from traceview.core.models import ApiKey as ApiKey
from traceview.core.models import Diagnosis as Diagnosis
from traceview.core.models import Invocation as Invocation
from traceview.core.models import InvocationSearch as InvocationSearch
from traceview.core.models import Project as Project
from traceview.core.models import Step as Step
from traceview.core.models import StepPayload as StepPayload
from traceview.dashboards.models import HourlyRollup as HourlyRollup
from traceview.dashboards.models import InvocationRollup as InvocationRollup
from traceview.dashboards.models import IssueRollup as IssueRollup
from traceview.dashboards.models import LatencyRollup as LatencyRollup
from traceview.dashboards.models import RollupState as RollupState
from traceview.dashboards.models import ToolRollup as ToolRollup
from traceview.judge.models import JudgeSpend as JudgeSpend
from traceview.judge.models import JudgeVerdict as JudgeVerdict
from traceview.retention.models import RetentionState as RetentionState
from traceview.triage.models import ISSUE_STATUSES as ISSUE_STATUSES
from traceview.triage.models import Correction as Correction
from traceview.triage.models import Issue as Issue
from traceview.triage.models import IssueActivity as IssueActivity
from traceview.triage.models import IssueComment as IssueComment
from traceview.triage.models import IssueInvocation as IssueInvocation
from traceview.triage.models import ProjectWebhook as ProjectWebhook
from traceview.triage.models import WebhookDelivery as WebhookDelivery
