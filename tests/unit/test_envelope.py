import json
from datetime import UTC, datetime

import pytest

from portside.errors import InvalidEnvelope
from portside.events.envelope import Verdict, classify, parse_envelope

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
OCI = "application/vnd.oci.image.manifest.v1+json"


def event(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "2d3f6a1c-0000-4000-8000-000000000001",
        "timestamp": "2026-11-27T08:49:19.209636693Z",
        "action": "push",
        "target": {
            "mediaType": OCI,
            "size": 411,
            "digest": "sha256:" + "a" * 64,
            "length": 411,
            "repository": "ns/app",
            "url": "http://127.0.0.1:5000/v2/ns/app/manifests/sha256:" + "a" * 64,
            "tag": "1.0",
        },
        "request": {
            "id": "r",
            "addr": "127.0.0.1:1",
            "host": "h",
            "method": "PUT",
            "useragent": "skopeo/1.9.3",
        },
        "actor": {"name": "alice"},
        "source": {"addr": "vm:5000", "instanceID": "i"},
    }
    base.update(changes)
    return base


def body(*events: dict[str, object]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def test_a_real_shaped_push_is_parsed() -> None:
    (parsed,) = parse_envelope(body(event()), NOW)
    assert parsed.action == "push"
    assert parsed.repository == "ns/app"
    assert parsed.tag == "1.0"
    assert parsed.actor == "alice"
    # Go's nanoseconds are cut to microseconds; the zone is kept.
    assert parsed.occurred_at == datetime(2026, 11, 27, 8, 49, 19, 209636, tzinfo=UTC)


def test_offsets_and_missing_timestamps() -> None:
    (parsed,) = parse_envelope(body(event(timestamp="2026-11-27T10:00:00.5+02:00")), NOW)
    assert parsed.occurred_at == datetime(2026, 11, 27, 8, 0, 0, 500000, tzinfo=UTC)
    raw = event()
    del raw["timestamp"]
    (parsed,) = parse_envelope(body(raw), NOW)
    assert parsed.occurred_at == NOW


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"[]", "envelope"),
        (b'{"events": {}}', "envelope"),
        (body({"id": "x"}), "action"),  # type: ignore[arg-type]
        (body(event(action="explode")), "action"),
        (body(event(target="nope")), "target"),
        (body(event(target={"mediaType": OCI})), "repository"),
        (body(event(id=None)), "id"),
        (body(event(timestamp="yesterday")), "events[0]"),
        (body(event(timestamp="2026-11-27T08:49:19")), "time zone"),
        (body(event(), "junk"), "events[1]"),  # type: ignore[arg-type]
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_malformed_envelopes_are_refused(payload: bytes, fragment: str) -> None:
    with pytest.raises(InvalidEnvelope, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        parse_envelope(payload, NOW)


def verdict(**changes: object) -> Verdict:
    (parsed,) = parse_envelope(body(event(**changes)), NOW)
    return classify(parsed, "portside/0.1.0", own_actor="portside-robot")


def test_manifest_pushes_pulls_and_all_deletes_are_kept() -> None:
    for media_type in (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ):
        target = dict(event()["target"], mediaType=media_type)  # type: ignore[call-overload]
        assert verdict(target=target) is Verdict.KEEP
        assert verdict(target=target, action="pull") is Verdict.KEEP
    target = {"repository": "ns/app", "digest": "sha256:" + "b" * 64}
    assert verdict(action="delete", target=target) is Verdict.KEEP


def test_blob_events_are_dropped() -> None:
    blob = dict(event()["target"], mediaType="application/octet-stream")  # type: ignore[call-overload]
    assert verdict(target=blob) is Verdict.BLOB
    assert verdict(target=blob, action="pull") is Verdict.BLOB
    assert verdict(action="mount") is Verdict.BLOB


def test_pulls_caused_by_portside_itself_are_dropped() -> None:
    own = {"useragent": "portside/0.1.0", "method": "HEAD"}
    assert verdict(action="pull", request=own) is Verdict.OWN
    assert verdict(action="pull", actor={"name": "portside-robot"}) is Verdict.OWN
    # A push by the same account is still kept; other clients' HEADs are real pulls.
    assert verdict(action="push", request=own) is Verdict.KEEP
    assert (
        verdict(action="pull", request={"useragent": "docker/27", "method": "HEAD"}) is Verdict.KEEP
    )
