import pytest

from tests.core.prometheus import TOKEN, samples_of


@pytest.fixture
def scrape(client, settings):
    """/metrics as Prometheus reads it, with the bearer token set."""
    settings.METRICS_TOKEN = TOKEN

    def run() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return samples_of(response.content.decode())

    return run
