"""Offer photos at MEDIA_URL: served by Django here so the embedded setup needs no other web
server (and so a channel can fetch them), only as images (offers/media.py). A CDN or nginx in
front must keep those headers."""

from django.conf import settings
from django.urls import path

from offers.media import serve_photo

urlpatterns = [
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve_photo),
]
