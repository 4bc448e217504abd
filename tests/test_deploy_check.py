"""`check --deploy` passes with the README's production settings (issue 15, item 10): HSTS and
the HTTPS redirect come from the environment, and the schema generator has nothing to warn of."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

PRODUCTION = {
    "SECRET_KEY": "x" * 20 + "-production-like-key-for-the-check-only-0123456789",
    "ALLOWED_HOSTS": "traceview.example.com", "SECURE_COOKIES": "true",
    "BEHIND_TLS_PROXY": "true", "SECURE_SSL_REDIRECT": "true", "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true", "DEBUG": "false",
}


def test_it_passes_the_deploy_check_with_the_production_settings():
    env = {**os.environ, **PRODUCTION}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    r = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
