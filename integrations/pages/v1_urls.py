"""V1's URLconf (Konfiguracja → Ogólne → Integracje): the same views as V2 (pages/urls.py)."""

from integrations.pages.urls import integration_patterns

urlpatterns = integration_patterns("v1/konfiguracja/ogolne/integracje/")
