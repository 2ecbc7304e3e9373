from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from calls.models import Organization

pytestmark = pytest.mark.django_db
TOKEN = "cli-token-9f8e7d6c"


def run(*args: str) -> str:
    out = StringIO()
    call_command("add_organization", *args, stdout=out)
    return out.getvalue()


def test_creates_the_organization_and_prints_its_id_last():
    output = run(
        "--name", "Harbor Auto", "--type", "Advertiser", "--invoca-id", "45821",
        "--token", TOKEN, "--base-url", "https://harbor.invoca.net/api/2023-10-09",
        "--poll-interval", "2.5",
    )  # fmt: skip
    last_line = output.strip().splitlines()[-1]
    org = Organization.objects.get()
    assert last_line == str(org.pk)
    assert (org.name, org.organization_type, org.invoca_id) == (
        "Harbor Auto",
        "Advertiser",
        "45821",
    )
    assert org.api_base_url == "https://harbor.invoca.net/api/2023-10-09"
    assert org.poll_interval_seconds == 2.5
    token = org.tokens.get()
    assert token.active and token.reveal_secret() == TOKEN
    assert TOKEN not in output and TOKEN not in token.secret_encrypted


def test_defaults():
    run("--name", "N", "--type", "Network", "--invoca-id", "7", "--token", TOKEN)
    org = Organization.objects.get()
    assert org.api_base_url == "https://invoca.net/api/2022-08-01"
    assert org.poll_interval_seconds == 5.0


def test_token_from_a_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    run("--name", "N", "--type", "Network", "--invoca-id", "7", "--token-file", str(path))
    assert Organization.objects.get().tokens.get().reveal_secret() == TOKEN


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "network"], "invalid choice"),
        (["--type", "Publisher"], "invalid choice"),
        (["--invoca-id", "abc"], "numeric"),
        (["--poll-interval", "0.2"], "poll_interval_seconds"),
        (["--poll-interval", "nan"], "seconds"),
        (["--poll-interval", "soon"], "seconds"),
        (["--base-url", "ftp://invoca.net/api"], "https://"),
        (["--base-url", "not a url"], "https://"),
        (["--token", "   "], "token"),
        (["--name", ""], "name"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(args, message):
    base = {"--name": "N", "--type": "Network", "--invoca-id": "7", "--token": TOKEN}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    flat = [item for pair in base.items() for item in pair]
    with pytest.raises(CommandError, match=message):
        run(*flat)
    assert not Organization.objects.exists()


def test_missing_token():
    with pytest.raises(CommandError, match="token"):
        run("--name", "N", "--type", "Network", "--invoca-id", "7")
