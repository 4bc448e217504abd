"""Brute force on the login pages (issue 15, item 8): wrong passwords are counted per account and
per address (django-axes); past the limit even the right password is refused for a while."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", password="r00t-pass!")


def attempt(client, path, username, password, address="198.51.100.7"):
    client.logout()
    return client.post(path, {"username": username, "password": password},
                       REMOTE_ADDR=address)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_it_refuses_the_right_password_after_thirty_wrong_ones(client, user, admin_user, path):
    name, password = ("alice", "s3cret-pass!") if path == "/login/" else ("root", "r00t-pass!")
    for _ in range(30):
        attempt(client, path, name, "wrong")
    r = attempt(client, path, name, password)
    assert r.status_code == 429
    assert not logged_in(client)


def test_it_counts_an_account_across_addresses(client, user, bob):
    for i in range(LIMIT):
        attempt(client, "/login/", "alice", "wrong", address=f"203.0.113.{i + 1}")
    assert attempt(client, "/login/", "alice", "s3cret-pass!", "192.0.2.99").status_code == 429
    assert not logged_in(client)
    # Another account, from yet another address, is not affected.
    attempt(client, "/login/", "bob", "s3cret-pass!", "192.0.2.100")
    assert logged_in(client)


def test_it_counts_an_address_across_accounts(client, user):
    for i in range(LIMIT):
        attempt(client, "/login/", f"guess{i}", "wrong", address="198.51.100.66")
    assert attempt(client, "/login/", "alice", "s3cret-pass!", "198.51.100.66").status_code == 429
    # The account itself was not attacked: from elsewhere it logs in.
    attempt(client, "/login/", "alice", "s3cret-pass!", "198.51.100.67")
    assert logged_in(client)


def test_it_forgives_a_few_typos_once_the_login_succeeds(client, user):
    for _ in range(LIMIT - 1):
        attempt(client, "/login/", "alice", "wrong")
    attempt(client, "/login/", "alice", "s3cret-pass!")
    assert logged_in(client)
    for _ in range(LIMIT - 1):
        attempt(client, "/login/", "alice", "wrong")
    attempt(client, "/login/", "alice", "s3cret-pass!")
    assert logged_in(client)
