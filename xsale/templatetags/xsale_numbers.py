"""{% load xsale_numbers %}: {{ value|number }}, {{ price|number:2 }}, {{ price|amount:currency }}
— every number and amount a seller reads goes through xsale.numbers."""

from django import template

from xsale.numbers import amount_display, number_display

register = template.Library()


@register.filter
def number(value, decimals=None):
    return number_display(value, None if decimals in (None, "") else int(decimals))


@register.filter
def amount(value, currency=""):
    return amount_display(value, currency or "")
