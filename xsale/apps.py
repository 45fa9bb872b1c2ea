from django.apps import AppConfig


class XsaleConfig(AppConfig):
    name = "xsale"
    verbose_name = "xSale"
