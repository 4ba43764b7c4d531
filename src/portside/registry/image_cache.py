"""Recently described images, by digest, kept in memory (a manifest's content never changes)."""

from __future__ import annotations

from collections import OrderedDict

from portside.registry.images import ImageInfo


class ImageCache:
    """Recently described images by digest (a manifest's content never changes)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._items: OrderedDict[str, ImageInfo] = OrderedDict()

    def get(self, digest: str) -> ImageInfo | None:
        image = self._items.get(digest)
        if image is not None:
            self._items.move_to_end(digest)
        return image

    def put(self, image: ImageInfo) -> None:
        self._items[image.digest] = image
        self._items.move_to_end(image.digest)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
