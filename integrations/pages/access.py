"""What every integration page shares: who may see and act, and the layout it was asked in."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import BadRequest
from django.urls import reverse

from integrations.models import RESYNC_PERMISSION, VIEW_PERMISSION

resync_permission_required = permission_required(RESYNC_PERMISSION, raise_exception=True)
# Every page that shows integrations, runs or the sync log: a login alone is not enough.
view_permission_required = permission_required(VIEW_PERMISSION, raise_exception=True)


def layout(request) -> str:
    return request.resolver_match.namespace  # "v1" or "v2"


def layout_url(request, name: str, *args) -> str:
    return reverse(f"integrations:{name}", args=args, current_app=layout(request))


def int_param(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


def query_with(params, **extra) -> str:
    params = params.copy()
    for key, value in extra.items():
        params[key] = value
    return params.urlencode()


def run_param(params, name: str = "run") -> int:
    """A run's id from a form: a number, or the request is bad (400, never a 500)."""
    value = params.get(name, "")
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise BadRequest(f"{name} must be a run's number")
    return int(value)
