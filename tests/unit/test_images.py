from datetime import UTC, datetime

import pytest

from portside.errors import RegistryProtocolError
from portside.registry.images import created_from_config, image_size, index_children
from portside.registry.mediatypes import ACCEPT, is_manifest


def test_size_is_config_plus_layers() -> None:
    manifest = {"config": {"size": 100}, "layers": [{"size": 1000}, {"size": 20}]}
    assert image_size(manifest) == 1120


def test_a_lying_size_is_refused() -> None:
    with pytest.raises(RegistryProtocolError):
        image_size({"config": {"size": -1}, "layers": []})
    with pytest.raises(RegistryProtocolError):
        image_size({"config": {"size": 1}, "layers": "many"})


def test_index_children_leave_out_attestations() -> None:
    index = {
        "manifests": [
            {"digest": "sha256:a", "platform": {"os": "linux", "architecture": "amd64"}},
            {
                "digest": "sha256:b",
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
            {
                "digest": "sha256:c",
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            },
        ]
    }
    children = index_children(index)
    assert [(c["architecture"], c["variant"]) for c in children] == [
        ("amd64", None),
        ("arm64", "v8"),
    ]
    with pytest.raises(RegistryProtocolError):
        index_children({"manifests": [{"platform": {}}]})


def test_created_with_nanoseconds() -> None:
    created = created_from_config({"created": "2026-01-02T03:04:05.123456789Z"})
    assert created == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert created_from_config({"created": "garbage"}) is None
    assert created_from_config({}) is None


def test_every_manifest_type_is_accepted() -> None:
    for media_type in (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ):
        assert media_type in ACCEPT
        assert is_manifest(media_type)
    assert not is_manifest("application/octet-stream")
    assert not is_manifest(None)
