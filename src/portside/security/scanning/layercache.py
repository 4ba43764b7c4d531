"""Each layer's files of interest, cached by layer digest in ``layer_cache``: a base layer
shared by many images is downloaded and read once."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import datetime

from sqlalchemy import select

from portside.db.conflict import conflict_insert
from portside.db.engine import Database
from portside.db.models import LayerCache
from portside.security.analysis.files import LayerFiles


def encode(layer: LayerFiles) -> bytes:
    data = {
        "digest": layer.digest,
        "files": {
            path: base64.b64encode(content).decode() for path, content in layer.files.items()
        },
        "whiteouts": sorted(layer.whiteouts),
        "opaque_dirs": sorted(layer.opaque_dirs),
        "replaced": sorted(layer.replaced),
    }
    return zlib.compress(json.dumps(data).encode(), 6)


def decode(blob: bytes) -> LayerFiles:
    data = json.loads(zlib.decompress(blob))
    return LayerFiles(
        digest=data["digest"],
        files={path: base64.b64decode(content) for path, content in data["files"].items()},
        whiteouts=frozenset(data["whiteouts"]),
        opaque_dirs=frozenset(data["opaque_dirs"]),
        replaced=frozenset(data["replaced"]),
    )


class LayerCacheStore:
    def __init__(self, db: Database):
        self.db = db

    async def get(self, digest: str) -> LayerFiles | None:
        async with self.db.read() as session:
            blob = await session.scalar(select(LayerCache.data).where(LayerCache.digest == digest))
        return decode(blob) if blob is not None else None

    async def put(self, layer: LayerFiles, now: datetime) -> None:
        async with self.db.write() as session:
            await session.execute(
                conflict_insert(self.db.dialect, LayerCache)
                .values(digest=layer.digest, data=encode(layer), created_at=now)
                .on_conflict_do_nothing()
            )
