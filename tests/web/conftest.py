import pytest


@pytest.fixture(autouse=True)
def _english(client):
    """Pages in English so assertions can match the msgids."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
