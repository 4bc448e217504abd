from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from ingest import api as ingest_api
from traceview.agents import scope_views
from traceview.agents import views as agent_views
from traceview.dashboards import views as dashboard_views
from traceview.judge import views as judge_views
from traceview.replay import api, views
from traceview.retention import views as retention_views
from traceview.triage import views as triage_views

urlpatterns = [
    path("", views.invocation_list_view, name="invocation-list"),
    path("invocations/<int:pk>/", views.invocation_detail_view, name="invocation-detail"),
    path("compare/", views.invocation_diff_view, name="invocation-diff"),
    path("sessions/", views.session_detail_view, name="session-detail"),
    path(
        "invocations/<int:pk>/compare/",
        views.invocation_baseline_view,
        name="invocation-baseline",
    ),
    path(
        "invocations/<int:pk>/triage/",
        triage_views.invocation_triage_view,
        name="invocation-triage",
    ),
    path(
        "invocations/<int:pk>/judge/",
        judge_views.invocation_judge_view,
        name="invocation-judge",
    ),
    path("agents/", agent_views.agent_list_view, name="agent-list"),
    path("agents/new/", agent_views.agent_create_view, name="agent-create"),
    path("agents/<int:pk>/", agent_views.agent_detail_view, name="agent-detail"),
    path("agents/<int:pk>/compare/", agent_views.agent_compare_view, name="agent-compare"),
    path("agents/<int:pk>/graph/", agent_views.agent_graph_view, name="agent-graph"),
    path(
        "invocations/<int:pk>/graph/", agent_views.invocation_graph_view, name="invocation-graph"
    ),
    path("dashboards/", dashboard_views.dashboards_view, name="dashboards"),
    path(
        "scope-violations/",
        scope_views.scope_violation_list_view,
        name="scope-violation-list",
    ),
    path("issues/", triage_views.issue_list_view, name="issue-list"),
    path("issues/bulk/", triage_views.issue_bulk_view, name="issue-bulk"),
    path("issues/agreement/", triage_views.agreement_view, name="issue-agreement"),
    path(
        "issues/corrections.jsonl",
        triage_views.corrections_export_view,
        name="corrections-export",
    ),
    path("issues/<int:pk>/", triage_views.issue_detail_view, name="issue-detail"),
    path("issues/<int:pk>/action/", triage_views.issue_action_view, name="issue-action"),
    path("issues/<int:pk>/comments/", triage_views.issue_comment_view, name="issue-comment"),
    path("webhooks/", triage_views.project_webhooks_view, name="project-webhooks"),
    path("projects/", retention_views.project_list_view, name="project-list"),
    path("projects/<int:pk>/", retention_views.project_detail_view, name="project-detail"),
    path("projects/<int:pk>/webhook/", triage_views.webhook_view, name="project-webhook"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/traces", ingest_api.NativeTracesView.as_view(), name="api-traces"),
    path("v1/traces", ingest_api.OtlpTracesView.as_view(), name="otlp-traces"),
    path("v1/logs", ingest_api.OtlpLogsView.as_view(), name="otlp-logs"),
    path("v1/metrics", ingest_api.OtlpMetricsView.as_view(), name="otlp-metrics"),
    path("api/public/otel/v1/traces", ingest_api.OtlpTracesView.as_view(), name="langfuse-otlp"),
    path("v1/traces/ingest", ingest_api.OpenAIAgentsTracesView.as_view(), name="openai-agents"),
    path(
        "api/public/ingestion",
        ingest_api.LangfuseIngestionView.as_view(),
        name="langfuse-ingestion",
    ),
    # LangSmith's client (LANGSMITH_ENDPOINT=<here>) calls these at the root; its OTel mode
    # (LANGSMITH_OTEL_ENABLED) exports OTLP to /otel/v1/traces.
    path("info", ingest_api.LangSmithInfoView.as_view(), name="langsmith-info"),
    # Each path takes only its own method: a PATCH without a run id, or a POST with one, is a 405.
    path("runs", ingest_api.LangSmithRunsView.as_view(http_method_names=["post"]),
         name="langsmith-runs"),
    path("runs/batch",
         ingest_api.LangSmithRunsView.as_view(shape="batch", http_method_names=["post"]),
         name="langsmith-runs-batch"),
    path("runs/multipart",
         ingest_api.LangSmithRunsView.as_view(shape="multipart", http_method_names=["post"]),
         name="langsmith-runs-multipart"),
    path("runs/<str:run_id>", ingest_api.LangSmithRunsView.as_view(http_method_names=["patch"]),
         name="langsmith-run"),
    path("otel/v1/traces", ingest_api.OtlpTracesView.as_view(), name="langsmith-otlp"),
    path("api/v1/invocations", api.InvocationListView.as_view(), name="api-invocation-list"),
    path(
        "api/v1/invocations/<int:pk>",
        api.InvocationDetailView.as_view(),
        name="api-invocation-detail",
    ),
    path(
        "api/v1/invocations/<int:pk>/steps/<path:span_id>",
        api.StepDetailView.as_view(),
        name="api-step-detail",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
