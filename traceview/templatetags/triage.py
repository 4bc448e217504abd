"""`{% triage_nav %}`: the Issues and Mine links with their counts, for the top navigation."""

from __future__ import annotations

from django import template

from traceview.core.queries import projects_for_user
from traceview.triage.services import issue_queue_counts

register = template.Library()


@register.inclusion_tag("traceview/triage/_nav_counts.html", takes_context=True)
def triage_nav(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_counts": None}
    here = getattr(request.resolver_match, "url_name", "") or ""
    return {
        # The queue page computed them already (its htmx polls refresh them out of band).
        "nav_counts": context.get("nav_counts")
        or issue_queue_counts(projects_for_user(user), user),
        "here": here,
        "queue": request.GET.get("queue", ""),
    }
