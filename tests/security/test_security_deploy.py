"""Issue #9, findings 5 and 9: a production environment passes `check --deploy`, and the
Procfile's web process (gunicorn) serves pages, collected static files and photos by itself."""

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.catalogue import image_bytes

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "p7#x!Qm2vR9@tL4$wZ8^kN3&bH6*cJ1(dF5)gS0_yU-eA+iO=rT~",
    "ALLOWED_HOSTS": "xsale.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://xsale.example.com",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}


def manage(*args, env, tmp_path):
    base = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_in_a_production_environment(tmp_path):
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_names_what_a_production_environment_lacks(tmp_path):
    bare = {"DEBUG": "0", "SECRET_KEY": PRODUCTION["SECRET_KEY"]}
    done = manage("check", "--deploy", env=bare, tmp_path=tmp_path)
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout


def test_a_proxy_header_that_is_not_a_header_and_a_value_is_refused(tmp_path):
    done = manage(
        "check", env={**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "https"}, tmp_path=tmp_path
    )
    assert done.returncode != 0 and "SECURE_PROXY_SSL_HEADER must be" in done.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_command() -> str:
    line = next(p for p in (ROOT / "Procfile").read_text().splitlines() if p.startswith("web:"))
    return line.removeprefix("web:").strip()


@pytest.mark.slow
def test_the_procfile_web_process_serves_pages_static_files_and_photos(tmp_path):
    assert web_command().startswith("gunicorn xsale.wsgi ")
    env = {**PRODUCTION, "ALLOWED_HOSTS": "127.0.0.1"}
    for step in (("migrate", "--noinput", "-v0"), ("collectstatic", "--noinput", "-v0")):
        done = manage(*step, env=env, tmp_path=tmp_path)
        assert done.returncode == 0, done.stderr
    (tmp_path / "media" / "offers").mkdir(parents=True)
    (tmp_path / "media" / "offers" / "p.png").write_bytes(image_bytes(fmt="PNG"))
    port = free_port()
    log = (tmp_path / "web.log").open("wb")
    web = subprocess.Popen(
        ["sh", "-c", f"exec {web_command()}"],
        cwd=ROOT,
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "WEB_PORT": str(port),
            "WEB_WORKERS": "1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
            "MEDIA_ROOT": str(tmp_path / "media"),
            **env,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    behind_tls = {"X-Forwarded-Proto": "https"}  # what the TLS-terminating proxy sets
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                plain = requests.get(f"{base}/login/", timeout=10, allow_redirects=False)
                break
            # Not listening yet, or its first answer (Django loading) slow on a loaded machine.
            except (requests.ConnectionError, requests.Timeout):
                if web.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "web.log").read_text()) from None
                time.sleep(0.2)
        assert plain.status_code == 301
        assert plain.headers["Location"] == f"https://127.0.0.1:{port}/login/"
        login = requests.get(f"{base}/login/", headers=behind_tls, timeout=5)
        assert login.status_code == 200
        assert "Secure" in login.headers["Set-Cookie"]  # the CSRF cookie
        assert login.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        css = re.search(r'href="(/static/xsale/v2\.[0-9a-f]{12}\.css)"', login.text)
        assert css, "the page names the collected, hashed file"
        static = requests.get(base + css.group(1), headers=behind_tls, timeout=5)
        assert static.status_code == 200
        assert "max-age=315360000" in static.headers["Cache-Control"]
        photo = requests.get(f"{base}/media/offers/p.png", headers=behind_tls, timeout=5)
        assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/png"
        assert photo.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        web.terminate()
        web.wait(10)
        log.close()
