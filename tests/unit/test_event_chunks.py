"""How a claimed batch is cut into write transactions (issue 10, item 8)."""

from portside.db.models import RegistryEvent
from portside.events.processor import APPLY_EVENTS, chunks


def events(spec: list[tuple[str, int]]) -> list[RegistryEvent]:
    found, next_id = [], 1
    for repository, n in spec:
        for _ in range(n):
            found.append(RegistryEvent(id=next_id, repository=repository))
            next_id += 1
    return found


def test_a_big_repositorys_events_are_split_in_order() -> None:
    batch = events([("big/app", 250), ("small", 3)])
    cut = chunks(batch)
    assert max(len(c) for c in cut) <= APPLY_EVENTS
    assert [e.id for c in cut for e in c] == [e.id for e in batch]  # order kept
    assert [len(c) for c in cut] == [100, 100, 53]


def test_small_repositories_share_a_transaction() -> None:
    cut = chunks(events([(f"r{n}", 2) for n in range(30)]))
    assert [len(c) for c in cut] == [60]
