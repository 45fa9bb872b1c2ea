"""What every integration page shares: who may see and act, and the layout it was asked in."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import BadRequest
from django.urls import reverse

from integrations.models import RESYNC_PERMISSION, VIEW_PERMISSION
from xsale.input import ascii_number

resync_permission_required = permission_required(RESYNC_PERMISSION, raise_exception=True)
# Every page that shows integrations, runs or the sync log: a login alone is not enough.
view_permission_required = permission_required(VIEW_PERMISSION, raise_exception=True)


def layout(request) -> str:
    return request.resolver_match.namespace  # "v1" or "v2"


def layout_url(request, name: str, *args) -> str:
    return reverse(f"integrations:{name}", args=args, current_app=layout(request))


def int_param(request, name: str) -> int | None:
    """A number from the query string (ASCII digits); anything else, or nothing, is None."""
    return ascii_number(request.GET.get(name, ""))


def query_with(params, **extra) -> str:
    params = params.copy()
    for key, value in extra.items():
        params[key] = value
    return params.urlencode()


def run_param(params, name: str = "run") -> int:
    """A run's id from a form: a number, or the request is bad (400, never a 500)."""
    number = ascii_number(params.get(name, ""))
    if number is None:
        raise BadRequest(f"{name} must be a run's number")
    return number
