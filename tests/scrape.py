"""Reading /metrics as Prometheus does: the text parsed by prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_parse(text: str) -> Samples:
    """Every sample of the exposition text by its name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def families_parse(text: str) -> dict[str, str]:
    """Each metric family's name and type."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}


def value(samples: Samples, name: str, /, **labels: object) -> float | None:
    """A sample's value, None when the text has no such sample."""
    return samples.get((name, frozenset((key, str(label)) for key, label in labels.items())))


def matching(samples: Samples, name: str, /, **labels: object) -> dict[frozenset, float]:
    """The samples of `name` whose labels include `labels`, by their labels."""
    wanted = {(key, str(label)) for key, label in labels.items()}
    return {
        sample_labels: sample_value
        for (sample_name, sample_labels), sample_value in samples.items()
        if sample_name == name and wanted <= sample_labels
    }


def bucket_values(
    samples: Samples, name: str, bounds: tuple[float, ...], /, **labels: object
) -> list[float]:
    """A histogram's buckets, lowest bound first and +Inf last; every one must be there."""
    found = [
        value(samples, f"{name}_bucket", le=le, **labels) for le in [*map(repr, bounds), "+Inf"]
    ]
    present = [bucket for bucket in found if bucket is not None]
    assert len(present) == len(found), found
    return present
