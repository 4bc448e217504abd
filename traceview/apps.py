from django.apps import AppConfig


class TraceviewConfig(AppConfig):
    name = "traceview"
    default_auto_field = "django.db.models.BigAutoField"
