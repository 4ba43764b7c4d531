import json
from datetime import UTC, datetime

import pytest

from portside.errors import RegistryProtocolError
from portside.registry import mediatypes
from portside.registry.client import Manifest
from portside.registry.images import created_from_config, from_manifest, image_size, index_children
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


def _manifest(media_type: str, data: dict[str, object]) -> Manifest:
    return Manifest("sha256:" + "1" * 64, media_type, json.dumps(data).encode())


def test_from_manifest_an_image_waits_for_its_config() -> None:
    image = from_manifest(
        _manifest(
            mediatypes.OCI_MANIFEST,
            {"config": {"digest": "sha256:c", "size": 10}, "layers": [{"size": 5}]},
        )
    )
    assert (image.config_digest, image.size, image.platforms, image.described) == (
        "sha256:c",
        15,
        [],
        False,
    )


def test_from_manifest_an_index_knows_its_platforms_but_not_their_sizes() -> None:
    index = {"manifests": [{"digest": "sha256:a", "platform": {"os": "linux"}}]}
    image = from_manifest(_manifest(mediatypes.OCI_INDEX, index))
    assert [(p["os"], p["size"]) for p in image.platforms] == [("linux", None)]
    assert image.size is None and not image.described


def test_from_manifest_has_nothing_to_wait_for_without_config_or_children() -> None:
    for media_type, data in (
        (mediatypes.DOCKER_SCHEMA1_SIGNED, {"schemaVersion": 1}),
        (mediatypes.OCI_MANIFEST, {"layers": []}),
        (mediatypes.OCI_INDEX, {"manifests": []}),
    ):
        assert from_manifest(_manifest(media_type, data)).described, media_type
