from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from integrations.urls import v1_patterns, v2_patterns
from xsale.media import serve_photo

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
    path("", include((v1_patterns, "integrations"), namespace="v1")),
    path("", include((v2_patterns, "integrations"), namespace="v2")),
    # Offer photos: served by Django here so the embedded setup needs no other web server
    # (and so a channel can fetch them), only as images (xsale/media.py). A CDN or nginx in
    # front must keep those headers.
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve_photo),
]

admin.site.site_header = "xSale"
admin.site.site_title = "xSale"
