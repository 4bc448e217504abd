from django.contrib import admin

from traceview.agents.models import ModelPrice
from traceview.core.models import Agent, ApiKey, Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "retention_days", "created_at")
    filter_horizontal = ("members",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "project", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "hashed_key", "created_at", "last_used_at")


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "category", "owner")


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("pattern", "input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
                    "reasoning_per_mtok", "effective_from", "note")
    list_editable = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok",
                     "reasoning_per_mtok")
    search_fields = ("pattern",)
    ordering = ("pattern", "-effective_from")
