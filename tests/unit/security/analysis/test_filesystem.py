"""Merging layers: whiteouts, opaque directories, replacements, file/directory swaps."""

from __future__ import annotations

import time

from portside.security.analysis.files import LayerFiles, MergedFile
from portside.security.analysis.filesystem import merge
from tests.unit.security.analysis.layerkit import directory, file, layer, opaque, symlink, whiteout

STATUS = "var/lib/dpkg/status"
SITE = "usr/local/lib/python3.11/site-packages"


def view(merged: dict[str, MergedFile]) -> dict[str, tuple[bytes, str]]:
    return {path: (f.content, f.layer_digest) for path, f in merged.items()}


def test_a_later_layer_replaces_a_database_and_whiteouts_delete_lower_files() -> None:
    base = layer(
        [
            file("etc/os-release", "ID=debian\n"),
            file(STATUS, "Package: a\n"),
            file(f"{SITE}/six-1.16.0.dist-info/METADATA", "Name: six\n"),
            file(f"{SITE}/idna-3.6.dist-info/METADATA", "Name: idna\n"),
        ]
    )
    upgrade = layer(
        [
            file(STATUS, "Package: a\n\nPackage: b\n"),
            whiteout(f"{SITE}/six-1.16.0.dist-info"),  # pip uninstall six
            file(f"{SITE}/six-1.17.0.dist-info/METADATA", "Name: six 17\n"),
        ]
    )
    merged = merge([base, upgrade])
    assert view(merged) == {
        "etc/os-release": (b"ID=debian\n", base.digest),
        STATUS: (b"Package: a\n\nPackage: b\n", upgrade.digest),
        f"{SITE}/idna-3.6.dist-info/METADATA": (b"Name: idna\n", base.digest),
        f"{SITE}/six-1.17.0.dist-info/METADATA": (b"Name: six 17\n", upgrade.digest),
    }


def test_whiteouts_apply_to_lower_layers_only_and_a_later_layer_may_add_back() -> None:
    base = layer([file(STATUS, "old")])
    same_layer = layer([whiteout(STATUS), file(STATUS, "new")])
    assert view(merge([base, same_layer])) == {STATUS: (b"new", same_layer.digest)}
    deleted = layer([whiteout("var/lib/dpkg")])
    assert merge([base, deleted]) == {}
    again = layer([file(STATUS, "again")])
    assert view(merge([base, deleted, again])) == {STATUS: (b"again", again.digest)}


def test_an_opaque_directory_hides_lower_content_but_not_its_own() -> None:
    base = layer(
        [
            file(f"{SITE}/a-1.dist-info/METADATA", "a"),
            file(f"{SITE}/b-1.dist-info/METADATA", "b"),
            file(f"{SITE}-other/c-1.dist-info/METADATA", "c"),  # a sibling, not below
            file(STATUS, "s"),
        ]
    )
    rebuilt = layer([directory(SITE), opaque(SITE), file(f"{SITE}/a-2.dist-info/METADATA", "a2")])
    assert set(merge([base, rebuilt])) == {
        f"{SITE}/a-2.dist-info/METADATA",
        f"{SITE}-other/c-1.dist-info/METADATA",
        STATUS,
    }
    wiped = layer([opaque(""), file("etc/os-release", "ID=alpine")])
    assert set(merge([base, wiped])) == {"etc/os-release"}


def test_links_hide_lower_files_and_directories() -> None:
    base = layer(
        [file("etc/os-release", "ID=debian"), file("opt/app/node_modules/x/package.json", "{}")]
    )
    top = layer([symlink("etc/os-release", "../usr/lib/os-release"), symlink("opt/app", "/srv")])
    assert merge([base, top]) == {}


def test_a_directory_replacing_a_file_and_a_file_replacing_a_directory() -> None:
    egg = "usr/lib/python3/dist-packages/foo-1.0.egg-info"
    base = layer([file(egg, "Name: foo\nVersion: 1.0\n"), file("opt/x.egg-info/PKG-INFO", "old")])
    top = layer(
        [file(f"{egg}/PKG-INFO", "Name: foo\nVersion: 1.0\n"), file("opt/x.egg-info", "new")]
    )
    assert view(merge([base, top])) == {
        f"{egg}/PKG-INFO": (b"Name: foo\nVersion: 1.0\n", top.digest),
        "opt/x.egg-info": (b"new", top.digest),
    }


def test_no_layers_and_order_matters() -> None:
    assert merge([]) == {}
    one, two = layer([file(STATUS, "1")]), layer([file(STATUS, "2")])
    assert merge([one, two])[STATUS].content == b"2"
    assert merge([two, one])[STATUS].content == b"1"


def test_merging_many_layers_of_many_files_is_fast() -> None:
    layers = [
        LayerFiles(
            digest=f"sha256:{n}",
            files={
                f"app/node_modules/p{n}-{i}/node_modules/q/package.json": b"{}" for i in range(1000)
            },
            replaced=frozenset(f"usr/lib/link{n}-{i}" for i in range(1000)),
        )
        for n in range(30)
    ]
    started = time.monotonic()
    merged = merge(layers)
    assert len(merged) == 30_000
    assert time.monotonic() - started < 5
