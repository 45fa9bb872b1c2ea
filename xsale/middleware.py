from csp.constants import NONE
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.middleware.locale import LocaleMiddleware
from django.urls import reverse
from django.utils import translation


class ProductLanguageMiddleware(LocaleMiddleware):
    """Polish unless the user chose otherwise with the language switch.

    The product speaks Polish to everyone; a browser's Accept-Language does not change that.
    English (or any language in LANGUAGES) is a choice the user makes, kept in the cookie that
    Django's set_language view writes.
    """

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen not in dict(settings.LANGUAGES):
            chosen = settings.LANGUAGE_CODE
        translation.activate(chosen)
        request.LANGUAGE_CODE = translation.get_language()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp (settings.CONTENT_SECURITY_POLICY), scripts from our static files only.

    A source expression cannot be a bare path, so "/static/" becomes this site's absolute
    static URL, from the request's host (already checked against ALLOWED_HOSTS). Uploaded and
    imported media live on the same origin: 'self' would let a photo run as a script. The
    admin's pages also load its translation catalogue, a view of Django's own (/admin/jsi18n/).
    """

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only:
            parts.replace = {"script-src": script_sources(request), **(parts.replace or {})}
        return parts


def script_sources(request) -> list[str]:
    try:
        static = (
            settings.STATIC_URL
            if settings.STATIC_URL.startswith(("http://", "https://"))
            else request.build_absolute_uri(settings.STATIC_URL)
        )
        sources = [static]
        admin = reverse("admin:index")
        if request.path.startswith(admin):
            sources.append(request.build_absolute_uri(reverse("admin:jsi18n")))
        return sources
    except DisallowedHost:
        return [NONE]
