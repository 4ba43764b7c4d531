"""How a claimed batch is cut into write transactions (issue 10, item 8)."""

from portside.db.models import RegistryEvent
from portside.events.processor import APPLY_EVENTS, chunks, split_pulls


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


def test_repositories_with_only_pulls_in_a_chunk_go_the_pulls_way() -> None:
    def event(id_: int, repository: str, action: str) -> RegistryEvent:
        return RegistryEvent(id=id_, repository=repository, action=action)

    chunk = [
        event(1, "pulled", "pull"),
        event(2, "mixed", "pull"),
        event(3, "pulled", "pull"),
        event(4, "mixed", "push"),
        event(5, "stopped", "pull"),
        event(6, "mixed", "pull"),
    ]
    pulls, rest = split_pulls(chunk, stopped={"stopped"})
    assert {name: [e.id for e in events] for name, events in pulls.items()} == {"pulled": [1, 3]}
    # A repository with a push keeps all its events in order on the ORM path; one stopped by a
    # retry goes there too (its events are released, not applied).
    assert [e.id for e in rest] == [2, 4, 5, 6]
