"""{% load xsale_forms %}{% form_errors form %}: the banner at the top of a form page that did
not save — what to fix, each line a link to its field, and that nothing typed was lost."""

from django import template

register = template.Library()


def error_summary(form) -> list[dict]:
    """The form's own order (IntegrationForm.error_summary), else its fields' order; errors of
    no one field first."""
    if hasattr(form, "error_summary"):
        return form.error_summary()
    summary = []
    if form.non_field_errors():
        summary.append({"label": "", "errors": list(form.non_field_errors()), "id": ""})
    for field in form:
        if field.errors:
            summary.append(
                {"label": field.label, "errors": list(field.errors), "id": field.id_for_label}
            )
    return summary


@register.inclusion_tag("_form_errors.html")
def form_errors(form, filters=False):
    """`filters`: the form filters a list (nothing is saved; the list is empty until fixed)."""
    if form is None or not form.is_bound or not form.errors:
        return {"summary": []}
    return {
        "summary": error_summary(form),
        "filters": filters,
        "secrets_not_kept": getattr(form, "secrets_not_kept", lambda: False)(),
    }
