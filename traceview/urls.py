from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from ingest import api as ingest_api
from traceview import api, views

urlpatterns = [
    path("", views.invocation_list_view, name="invocation-list"),
    path("invocations/<int:pk>/", views.invocation_detail_view, name="invocation-detail"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/traces", ingest_api.NativeTracesView.as_view(), name="api-traces"),
    path("v1/traces", ingest_api.OtlpTracesView.as_view(), name="otlp-traces"),
    path("api/public/otel/v1/traces", ingest_api.OtlpTracesView.as_view(), name="langfuse-otlp"),
    path("v1/traces/ingest", ingest_api.OpenAIAgentsTracesView.as_view(), name="openai-agents"),
    path("api/public/ingestion", ingest_api.LangfuseIngestionView.as_view(), name="langfuse-ingestion"),
    path("api/v1/invocations", api.InvocationListView.as_view(), name="api-invocation-list"),
    path(
        "api/v1/invocations/<int:pk>", api.InvocationDetailView.as_view(),
        name="api-invocation-detail",
    ),
    path(
        "api/v1/invocations/<int:pk>/steps/<path:span_id>", api.StepDetailView.as_view(),
        name="api-step-detail",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
