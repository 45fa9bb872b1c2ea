"""A from–to filter for the admin's changelist sidebar (dates and prices)."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _


class RangeFilter(admin.FieldListFilter):
    template = "admin/range_filter.html"
    input_type = "number"
    transform = ""

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.param_from = f"{field_path}{self.transform}__gte"
        self.param_to = f"{field_path}{self.transform}__lte"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = getattr(field, "verbose_name", field_path)

    def expected_parameters(self):
        return [self.param_from, self.param_to]

    def parse(self, raw):
        return raw

    def queryset(self, request, queryset):
        lookups = {}
        for param in self.expected_parameters():
            raw = self.used_parameters.get(param)
            if isinstance(raw, list):
                raw = raw[-1] if raw else None
            if raw in (None, ""):
                continue
            value = self.parse(raw)
            if value is None:
                raise admin.options.IncorrectLookupParameters(
                    ValidationError(_("Invalid value: %(v)s") % {"v": raw})
                )
            lookups[param] = value
        return queryset.filter(**lookups) if lookups else queryset

    def choices(self, changelist):
        def current(param):
            raw = self.used_parameters.get(param, "")
            return raw[-1] if isinstance(raw, list) and raw else raw

        yield {
            "input_type": self.input_type,
            "param_from": self.param_from,
            "param_to": self.param_to,
            "value_from": current(self.param_from),
            "value_to": current(self.param_to),
            "other_params": [
                (k, v)
                for k, values in changelist.get_filters_params().items()
                if k not in self.expected_parameters()
                for v in (values if isinstance(values, list) else [values])
            ],
            "clear_url": changelist.get_query_string(remove=self.expected_parameters()),
        }


class DateRangeFilter(RangeFilter):
    input_type = "date"
    transform = "__date"

    def parse(self, raw):
        try:
            return parse_date(raw)
        except ValueError:
            return None


class NumberRangeFilter(RangeFilter):
    def parse(self, raw):
        from decimal import Decimal, InvalidOperation

        try:
            return Decimal(raw)
        except InvalidOperation:
            return None
