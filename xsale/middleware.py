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
