"""Loading OSV advisories from a folder or a zip: streaming, bounded, reporting bad files."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from portside.security.advisories.errors import SourceUnreadable
from portside.security.advisories.load import (
    LoadLimits,
    LoadProblem,
    LoadReport,
    read_advisories,
    read_records,
)

from .conftest import OSV_DATA, record

REAL = sorted(p.stem for p in OSV_DATA.glob("*.json"))
REAL_IDS = sorted(record(name)["id"] for name in REAL)


def load(path: Path, limits: LoadLimits | None = None) -> tuple[list[str], LoadReport]:
    report = LoadReport()
    ids = [a.id for a in read_advisories(path, report, limits=limits)]
    return ids, report


def test_real_records_folder() -> None:
    ids, report = load(OSV_DATA)
    assert sorted(ids) == REAL_IDS
    assert (report.files, report.advisories, report.problems, report.notes) == (
        len(REAL),
        len(REAL),
        [],
        [],
    )


def test_folder_is_searched_recursively_and_bad_files_are_reported(tmp_path: Path) -> None:
    (tmp_path / "Debian" / "2023").mkdir(parents=True)
    (tmp_path / "PyPI").mkdir()
    shutil.copy(OSV_DATA / "DSA-5514-1.json", tmp_path / "Debian" / "2023")
    shutil.copy(OSV_DATA / "PYSEC-2023-74.json", tmp_path / "PyPI")
    (tmp_path / "PyPI" / "broken.json").write_text('{"id": "PYSEC-X", ')
    (tmp_path / "PyPI" / "no-id.json").write_text('{"summary": "an id is missing"}')
    (tmp_path / "PyPI" / "latin1.json").write_bytes(b'{"id": "caf\xe9"}')
    (tmp_path / "PyPI" / "README.md").write_text("not a record")
    (tmp_path / "PyPI" / "skips.json").write_text(
        json.dumps({"id": "PYSEC-SKIPS", "affected": [{"ranges": []}]})
    )
    ids, report = load(tmp_path)
    assert ids == ["DSA-5514-1", "PYSEC-2023-74", "PYSEC-SKIPS"]
    assert report.files == 6
    assert report.problems == [
        LoadProblem(
            str(tmp_path / "PyPI" / "broken.json"),
            "not valid JSON: Expecting property name enclosed in double quotes at line 1",
        ),
        LoadProblem(
            str(tmp_path / "PyPI" / "latin1.json"), "not UTF-8 text: invalid continuation byte"
        ),
        LoadProblem(str(tmp_path / "PyPI" / "no-id.json"), "an OSV record without an id"),
    ]
    skips = str(tmp_path / "PyPI" / "skips.json")
    assert report.notes == [
        LoadProblem(skips, "modified: missing or unreadable timestamp"),
        LoadProblem(skips, "affected 0: an affected entry without a package"),
    ]


def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    shutil.copy(OSV_DATA / "DSA-5514-1.json", tmp_path)
    (tmp_path / "huge.json").write_text(json.dumps({"id": "HUGE", "details": "x" * 5000}))
    ids, report = load(tmp_path, LoadLimits(max_file_bytes=4000))
    assert ids == ["DSA-5514-1"]
    [problem] = report.problems
    assert problem.source.endswith("huge.json")
    assert problem.reason.endswith("bytes, over the 4000-byte limit")


def test_a_file_holding_a_list_of_records(tmp_path: Path) -> None:
    records = [record("GHSA-h5c8-rqwp-cp95"), {"no": "id"}, record("GHSA-2p57-rm9w-gvfp")]
    (tmp_path / "all.json").write_text(json.dumps(records))
    ids, report = load(tmp_path)
    assert ids == ["GHSA-h5c8-rqwp-cp95", "GHSA-2p57-rm9w-gvfp"]
    assert report.problems == [
        LoadProblem(f"{tmp_path / 'all.json'}[1]", "an OSV record without an id")
    ]


def test_a_single_json_file(tmp_path: Path) -> None:
    ids, _ = load(OSV_DATA / "RLSA-2023-5455.json")
    assert ids == ["RLSA-2023:5455"]


def write_zip(path: Path, members: dict[str, bytes], stored: tuple[str, ...] = ()) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def real_bytes(name: str) -> bytes:
    return (OSV_DATA / f"{name}.json").read_bytes()


def test_zip_like_osv_dev_all_zip(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    write_zip(archive, {f"{name}.json": real_bytes(name) for name in REAL} | {"README": b"x"})
    ids, report = load(archive)
    assert sorted(ids) == REAL_IDS
    assert report.problems == []


def test_zip_with_a_corrupt_member_goes_on(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    good, bad = real_bytes("DSA-5514-1"), real_bytes("PYSEC-2023-74")
    write_zip(
        archive,
        {"PYSEC-2023-74.json": bad, "DSA-5514-1.json": good},
        stored=("PYSEC-2023-74.json",),
    )
    data = bytearray(archive.read_bytes())
    offset = data.index(b'"aliases"')  # inside the stored member's bytes
    data[offset + 1] ^= 0x20
    archive.write_bytes(bytes(data))
    ids, report = load(archive)
    assert ids == ["DSA-5514-1"]
    [problem] = report.problems
    assert problem.source == "PYSEC-2023-74.json"
    assert problem.reason.startswith("corrupt member: Bad CRC-32")


def test_zip_member_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    big = json.dumps({"id": "BIG", "details": "y" * 50_000}).encode()
    write_zip(archive, {"BIG.json": big, "DSA-5514-1.json": real_bytes("DSA-5514-1")})
    ids, report = load(archive, LoadLimits(max_file_bytes=20_000))
    assert ids == ["DSA-5514-1"]
    assert report.problems == [
        LoadProblem("BIG.json", f"{len(big)} bytes uncompressed, over the 20000-byte limit")
    ]


def test_zip_bomb_member_is_refused_by_its_ratio(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    bomb = json.dumps({"id": "BOMB", "details": " " * 200_000}).encode()
    write_zip(archive, {"BOMB.json": bomb, "DSA-5514-1.json": real_bytes("DSA-5514-1")})
    ids, report = load(archive, LoadLimits(max_ratio=50, ratio_floor_bytes=64 * 1024))
    assert ids == ["DSA-5514-1"]
    [problem] = report.problems
    assert problem.source == "BOMB.json"
    assert "over 50:1 (zip bomb?)" in problem.reason


def test_total_size_budget(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    names = ["DSA-5514-1", "GHSA-h5c8-rqwp-cp95", "PYSEC-2023-74"]
    write_zip(archive, {f"{n}.json": real_bytes(n) for n in names})
    budget = len(real_bytes(names[0])) + len(real_bytes(names[1]))
    ids, report = load(archive, LoadLimits(max_total_bytes=budget))
    assert ids == ["DSA-5514-1", "GHSA-h5c8-rqwp-cp95"]
    assert report.problems == [
        LoadProblem("PYSEC-2023-74.json", "the source's total size limit is reached")
    ]


def test_read_records_gives_each_record_as_read() -> None:
    report = LoadReport()
    pairs = list(read_records(OSV_DATA / "DSA-5514-1.json", report))
    assert [(raw, advisory.id) for raw, advisory in pairs] == [(record("DSA-5514-1"), "DSA-5514-1")]
    assert report.advisories == 1


def test_reading_is_lazy(tmp_path: Path) -> None:
    report = LoadReport()
    advisories = read_advisories(OSV_DATA, report)
    assert report.files == 0
    next(advisories)
    assert report.files == 1


@pytest.mark.parametrize("name", ["missing", "not-a.zip", "notes.txt"])
def test_unreadable_sources_raise(tmp_path: Path, name: str) -> None:
    (tmp_path / "not-a.zip").write_bytes(b"PK but not really")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceUnreadable, match=name):
        list(read_advisories(tmp_path / name))


def test_a_record_with_a_nul_or_an_overlong_id_is_reported_not_read(tmp_path: Path) -> None:
    """Hand-written records: no database could store these (PostgreSQL refuses NUL)."""
    good = {"id": "HW-1", "modified": "2026-01-01T00:00:00Z"}
    (tmp_path / "a.json").write_text(
        json.dumps([good, {**good, "id": "HW-2", "details": "x\u0000"}, {"id": "HW-3\u0000"}])
    )
    (tmp_path / "b.json").write_text(json.dumps({**good, "id": "HW-" + "9" * 300}))
    (tmp_path / "c.json").write_text('{"id": "HW-4", "details": "a \\\\u0000 is text here"}')
    ids, report = load(tmp_path)
    assert ids == ["HW-1", "HW-4"]
    assert [p.source.rsplit("/", 1)[1] for p in report.problems] == [
        "a.json[1]",
        "a.json[2]",
        "b.json",
    ]
    assert "NUL" in report.problems[0].reason
    assert "over 255 characters" in report.problems[2].reason
