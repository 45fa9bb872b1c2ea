from django.apps import AppConfig


class SandboxConfig(AppConfig):
    # Only here so `manage.py run_sandbox` exists; the sandbox imports nothing from xSale.
    name = "sandbox"
    verbose_name = "Channel sandbox"
