import pytest

from tests.export.data import https_client

client = pytest.fixture(https_client)
