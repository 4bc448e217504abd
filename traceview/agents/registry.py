"""Agent types: the list and versions a page shows, and the form that sets an agent's category,
owner, budgets and tool scope.

Agents first seen in a trace are created by ingest with no owner; the list flags them so that
someone claims them.
"""

from __future__ import annotations

import re

from django import forms
from django.db.models import OuterRef, QuerySet, Subquery

from traceview.core.models import Agent, Invocation, Project
from traceview.core.queries import project_members
from traceview.core.trace import BUDGET_FIELDS


def agent_list(projects) -> QuerySet[Agent]:
    """The agents of `projects`, unowned first, with when each was last seen. The last-seen
    subquery reads one row of the (agent, -created_at) index per agent."""
    last_seen = Invocation.objects.filter(agent=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        Agent.objects.filter(project__in=projects)
        .select_related("project", "owner")
        .annotate(last_seen=Subquery(last_seen.values("created_at")[:1]))
        .order_by("project__name", "name")
    )


def _tool_names(text: str) -> list[str]:
    # One per line or separated by commas; order kept, duplicates dropped.
    names = [n.strip() for n in re.split(r"[,\n]", text or "") if n.strip()]
    return list(dict.fromkeys(names))


class ToolListField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value):
        names = _tool_names(super().to_python(value))
        for name in names:
            if len(name) > 200:
                raise forms.ValidationError("a tool name is at most 200 characters")
        return names


class AgentForm(forms.ModelForm):
    """Create (with a project and a name) or edit an agent. The owner must be a member of the
    agent's project; the project choice is limited to the user's projects."""

    allowed_tools = ToolListField(
        required=False,
        help_text="One per line; globs like mcp__github__* too. Empty: any tool may be called.",
    )
    confirm_tools = ToolListField(
        required=False, label="Tools needing human confirmation",
        help_text="One per line. Each call must follow a human-approval step in the trace.",
    )

    class Meta:
        model = Agent
        fields = ["project", "name", "category", "owner", *BUDGET_FIELDS,
                  "allowed_tools", "confirm_tools"]
        labels = {
            "max_tokens": "Max tokens", "max_cost_usd": "Max cost (USD)",
            "max_steps": "Max steps", "max_depth": "Max depth",
            "max_subagents": "Max sub-agents", "max_duration_s": "Max duration (s)",
        }

    def __init__(self, *args, projects, **kwargs):
        super().__init__(*args, **kwargs)
        for name in BUDGET_FIELDS:
            self.fields[name].widget.attrs.update(min=0, size=10)
            self.fields[name].min_value = 0
            self.fields[name].validators.append(_not_negative)
        if self.instance.pk:
            # Renaming would split the agent from the traces that name it; moving it would
            # carry another project's invocations along.
            del self.fields["project"]
            del self.fields["name"]
            self.fields["owner"].queryset = project_members([self.instance.project])
        else:
            self.fields["project"].queryset = Project.objects.filter(
                pk__in=[p.pk for p in projects]
            ).order_by("name")
            self.fields["project"].empty_label = None
            self.fields["owner"].queryset = project_members(projects)
        self.fields["owner"].empty_label = "no owner"

    def clean(self):
        data = super().clean()
        project = self.instance.project if self.instance.pk else data.get("project")
        owner = data.get("owner")
        if owner and project and not project.members.filter(pk=owner.pk).exists():
            self.add_error("owner", "The owner must be a member of the agent's project.")
        if (
            not self.instance.pk and project and data.get("name")
            and Agent.objects.filter(project=project, name=data["name"]).exists()
        ):
            self.add_error("name", "This project already has an agent with this name.")
        return data


def _not_negative(value):
    if value is not None and value < 0:
        raise forms.ValidationError("must not be negative")
