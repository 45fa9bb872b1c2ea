from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path(
        "",
        RedirectView.as_view(pattern_name="v2:integration_list", permanent=False),
        name="home",
    ),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # Both layouts share one application namespace; v2 comes last so that it is the default
    # instance wherever no layout is current (the admin, e-mails).
    path("", include(("integrations.pages.v1_urls", "integrations"), namespace="v1")),
    path("", include(("integrations.pages.urls", "integrations"), namespace="v2")),
    # Offer photos (offers/urls.py), only as images.
    path("", include("offers.urls")),
]

admin.site.site_header = "xSale"
admin.site.site_title = "xSale"
