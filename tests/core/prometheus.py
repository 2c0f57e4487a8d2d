"""Reading /metrics as Prometheus would, for the tests of the metrics and of the sweeps."""

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "jeton-de-test-des-metriques-0123456789"


def samples_of(text: str) -> dict:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)
