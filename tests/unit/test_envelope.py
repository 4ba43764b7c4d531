import json
from datetime import UTC, datetime, timedelta

import pytest

from portside.db.models import RegistryEvent
from portside.errors import InvalidEnvelope
from portside.events.envelope import (
    MAX_LENGTHS,
    Reason,
    Refused,
    Verdict,
    bound_timestamp,
    classify,
    parse_envelope,
)

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
    (parsed,) = parse_envelope(body(event()), NOW).events
    assert parsed.action == "push"
    assert parsed.repository == "ns/app"
    assert parsed.tag == "1.0"
    assert parsed.actor == "alice"
    # Go's nanoseconds are cut to microseconds; the zone is kept.
    assert parsed.occurred_at == datetime(2026, 11, 27, 8, 49, 19, 209636, tzinfo=UTC)


def test_offsets_and_missing_timestamps() -> None:
    (parsed,) = parse_envelope(body(event(timestamp="2026-11-27T10:00:00.5+02:00")), NOW).events
    assert parsed.occurred_at == datetime(2026, 11, 27, 8, 0, 0, 500000, tzinfo=UTC)
    raw = event()
    del raw["timestamp"]
    (parsed,) = parse_envelope(body(raw), NOW).events
    assert parsed.occurred_at == NOW


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"[]", "envelope"),
        (b'{"events": {}}', "envelope"),
        (b"\xff\xfe", "not JSON"),
        (b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
    ],
)
def test_bodies_that_are_not_envelopes_are_refused(payload: bytes, fragment: str) -> None:
    with pytest.raises(InvalidEnvelope, match=fragment):
        parse_envelope(payload, NOW)


def target(**changes: object) -> dict[str, object]:
    return dict(event()["target"], **changes)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("junk", Reason.MALFORMED),
        ({"id": "x"}, Reason.MALFORMED),
        (event(action="explode"), Reason.MALFORMED),
        (event(target="nope"), Reason.MALFORMED),
        (event(target={"mediaType": OCI}), Reason.MALFORMED),
        (event(id=None), Reason.MALFORMED),
        (event(timestamp="yesterday"), Reason.TIMESTAMP),
        (event(timestamp="2026-11-27T08:49:19"), Reason.TIMESTAMP),
        (event(timestamp="0001-01-01T00:00:00Z"), Reason.TIMESTAMP),
        (event(timestamp="1999-12-31T23:59:59Z"), Reason.TIMESTAMP),
        (event(timestamp="0001-01-01T00:00:00+01:00"), Reason.TIMESTAMP),
        (event(target=target(repository="evil/../team/app")), Reason.REPOSITORY),
        (event(target=target(repository="team/%2e%2e/app")), Reason.REPOSITORY),
        (event(target=target(repository="Team/App")), Reason.REPOSITORY),
        (event(target=target(repository="ns/app\u0000")), Reason.CHARACTERS),
        (event(target=target(repository="ns/app\n")), Reason.REPOSITORY),
        (event(target=target(repository="ns/\u202eppa")), Reason.REPOSITORY),
        (event(target=target(repository="a" * 256)), Reason.REPOSITORY),
        (event(target=target(tag="t" * 129)), Reason.TAG),
        (event(target=target(tag="../1.0")), Reason.TAG),
        (event(target=target(tag="1.0\n")), Reason.TAG),
        (event(target=target(digest="sha256:" + "A" * 64)), Reason.DIGEST),
        (event(target=target(digest="sha256:" + "a" * 63)), Reason.DIGEST),
        (event(target=target(digest="md5:" + "a" * 32)), Reason.DIGEST),
        (event(target=target(digest="sha512:" + "a" * 128)), Reason.TOO_LONG),
        (event(target=target(mediaType="x" * 256)), Reason.TOO_LONG),
        (event(actor={"name": "a" * 256}), Reason.TOO_LONG),
        (event(actor={"name": "alice\u202egnp.exe"}), Reason.CHARACTERS),
        (event(actor={"name": "al\x1bice"}), Reason.CHARACTERS),
        (event(id="i" * 129), Reason.TOO_LONG),
        (event(request={"useragent": "x\u0000y"}), Reason.CHARACTERS),
        (event(request={"useragent": "\ud800"}), Reason.CHARACTERS),
        (event(source={"\u0000": 1}), Reason.CHARACTERS),
        (event(target=target(size=float("nan"))), Reason.NUMBER),
        (event(target=target(size=float("inf"))), Reason.NUMBER),
    ],
)
def test_a_bad_event_is_refused_and_its_neighbours_kept(raw: object, reason: Reason) -> None:
    good = event(id="good-1"), event(id="good-2")
    envelope = parse_envelope(body(good[0], raw, good[1]), NOW)  # type: ignore[arg-type]
    assert [(e.event_id, e.position) for e in envelope.events] == [("good-1", 0), ("good-2", 2)]
    (refusal,) = envelope.refused
    assert (refusal.index, refusal.reason) == (1, reason)


@pytest.mark.parametrize("number", [b"NaN", b"-Infinity", b"1e999", b"1" + b"0" * 400 + b".5"])
def test_nan_and_infinity_in_the_body_refuse_only_their_event(number: bytes) -> None:
    payload = body(event(id="good"), event(id="bad")).replace(b'"size": 411', b'"size": ' + number)
    payload = payload.replace(b'"size": ' + number, b'"size": 411', 1)
    envelope = parse_envelope(payload, NOW)
    assert [e.event_id for e in envelope.events] == ["good"]
    assert [(r.event_id, r.reason) for r in envelope.refused] == [("bad", Reason.NUMBER)]


def test_an_event_in_utf16_is_checked_like_one_in_utf8() -> None:
    payload = body(event(id="good"), event(id="bad", request={"useragent": "a\x00"}))
    envelope = parse_envelope(payload.decode().encode("utf-16"), NOW)
    assert [e.event_id for e in envelope.events] == ["good"]
    assert [r.reason for r in envelope.refused] == [Reason.CHARACTERS]


def test_a_timestamp_ahead_of_the_clock_is_clamped_to_the_receive_time() -> None:
    ahead = event(id="ahead", timestamp="2999-01-01T00:00:00Z")
    near = event(id="near", timestamp="2026-11-27T12:04:00Z")  # 4 minutes ahead: kept
    far = event(id="far", timestamp="2026-11-27T12:06:00+00:00")
    envelope = parse_envelope(body(ahead, near, far), NOW)
    times = {e.event_id: (e.occurred_at, e.clamped) for e in envelope.events}
    assert times["ahead"] == (NOW, True)
    assert times["near"] == (datetime(2026, 11, 27, 12, 4, tzinfo=UTC), False)
    assert times["far"] == (NOW, True)
    assert envelope.clamped == 2
    # The allowed skew is a setting.
    (strict,) = parse_envelope(body(near), NOW, max_skew=timedelta(seconds=10)).events
    assert (strict.occurred_at, strict.clamped) == (NOW, True)


def test_bound_timestamp() -> None:
    skew = timedelta(minutes=5)
    assert bound_timestamp(NOW, NOW, skew) == (NOW, False)
    assert bound_timestamp(NOW + skew, NOW, skew) == (NOW + skew, False)
    assert bound_timestamp(NOW + skew + timedelta(seconds=1), NOW, skew) == (NOW, True)
    assert bound_timestamp(datetime(2000, 1, 1, tzinfo=UTC), NOW, skew)[1] is False
    with pytest.raises(Refused):
        bound_timestamp(datetime(1999, 12, 31, 23, 59, tzinfo=UTC), NOW, skew)


def test_field_limits_fit_the_columns_they_fill() -> None:
    columns = RegistryEvent.__table__.c
    for name, limit in MAX_LENGTHS.items():
        assert limit <= columns[name].type.length, name


def verdict(**changes: object) -> Verdict:
    (parsed,) = parse_envelope(body(event(**changes)), NOW).events
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
