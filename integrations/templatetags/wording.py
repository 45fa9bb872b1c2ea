"""`{{ text|worded }}`: a reason a worker stored, in the reader's language (wording.py)."""

from django import template

from integrations.wording import worded as word

register = template.Library()


@register.filter
def worded(text) -> str:
    return word(text)
