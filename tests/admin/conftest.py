import pytest

from tests.export.data import https_client
from tests.factories import UserFactory

client = pytest.fixture(https_client)


@pytest.fixture
def staff(client):
    """A superuser, signed in on `client`."""
    user = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user
