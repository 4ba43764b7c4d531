"""Manifest media types and what each one is."""

from __future__ import annotations

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

IMAGE_MANIFESTS = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEXES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
SCHEMA1 = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
MANIFESTS = IMAGE_MANIFESTS | INDEXES | SCHEMA1

# Sent on every manifest request: without the OCI types an OCI manifest answers 404, and a
# Docker schema 2 manifest fetched by tag without its type is converted to schema 1.
ACCEPT = ", ".join(
    [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, DOCKER_SCHEMA1_SIGNED]
)


def is_manifest(media_type: str | None) -> bool:
    """True for every manifest and index media type (blob types are not)."""
    if not media_type:
        return False
    base = media_type.split(";", 1)[0].strip().lower()
    return base in MANIFESTS
