"""portside.cyclegc: pausing and freezing the cycle collector."""

import gc

import pytest

from portside import cyclegc


def test_the_cycle_collector_is_paused_and_restored() -> None:
    assert gc.isenabled()
    with cyclegc.paused():
        assert not gc.isenabled()
        with cyclegc.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves it as it found it
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclegc.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_before_exit_freezes_what_is_alive() -> None:
    try:
        cyclegc.before_exit()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_importing_pauses_the_collector_then_freezes_what_is_left() -> None:
    try:
        with cyclegc.importing():
            assert not gc.isenabled()
            kept = [[n] for n in range(100)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
