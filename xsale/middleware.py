from django.conf import settings
from django.middleware.locale import LocaleMiddleware
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


class ContentSecurityPolicyMiddleware:
    """Scripts only from our own static files: an injected <script> in a page never runs.

    Styles allow inline attributes (the admin's and a few of ours use them); images may be
    data: URLs (the admin's icons). Pages are never framed.
    """

    POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.POLICY)
        return response
