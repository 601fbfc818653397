"""Claims (leases) on SQLite and PostgreSQL: one winner per key among racing instances, takeover on expiry."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path

import pytest

from sora_mcp.library import Ledger


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "data" / "ledger.sqlite3"
    return str(request.getfixturevalue("database_url"))


def test_a_claim_is_held_renewed_released_and_taken_over_when_expired(location: Path | str) -> None:
    clock = Clock(1_000.0)
    a, b = Ledger(location, clock=clock), Ledger(location, clock=clock)
    try:
        assert a.claim("archive", "v1", "A", ttl_s=30) is True
        assert b.claim("archive", "v1", "B", ttl_s=30) is False  # held by A
        assert a.claim("archive", "v1", "A", ttl_s=30) is True  # the holder may claim again
        assert b.claim("archive", "v2", "B", ttl_s=30) is True  # another key is free
        assert b.claim("poll", "v1", "B", ttl_s=30) is True  # another kind is free
        clock.t += 20
        assert a.renew("archive", "v1", "A", ttl_s=30) is True  # now expires at 1050
        assert b.renew("archive", "v1", "B", ttl_s=30) is False  # not B's to renew
        clock.t += 29
        assert b.claim("archive", "v1", "B", ttl_s=30) is False  # renewed: still A's
        b.release("archive", "v1", "B")  # not B's: nothing happens
        assert b.claim("archive", "v1", "B", ttl_s=30) is False
        # A dies without releasing; once its lease runs out, B takes the work over.
        clock.t += 2
        assert b.claim("archive", "v1", "B", ttl_s=30) is True
        assert a.renew("archive", "v1", "A", ttl_s=30) is False  # A (back from a stall) learns it lost it
        a.release("archive", "v1", "A")  # and its release does not free B's claim
        assert a.claim("archive", "v1", "A", ttl_s=30) is False
        b.release("archive", "v1", "B")
        assert a.claim("archive", "v1", "A", ttl_s=30) is True  # released: free at once
        with pytest.raises(ValueError):
            a.claim("archive", "v3", "A", ttl_s=0)
    finally:
        a.close()
        b.close()


def test_two_instances_racing_for_50_jobs_claim_each_exactly_once(location: Path | str) -> None:
    instances = [Ledger(location), Ledger(location)]
    keys = [f"job{i}" for i in range(50)]
    wins: list[tuple[str, str]] = []  # (key, owner)
    errors: list[BaseException] = []
    workers = 3  # per instance, each with its own owner id (a worker task of that instance)
    barrier = threading.Barrier(len(instances) * workers)

    def worker(n: int, w: int) -> None:
        owner = f"instance{n}-worker{w}"
        order = keys[:]
        random.Random(n * 10 + w).shuffle(order)
        try:
            barrier.wait(10)
            for key in order:
                if instances[n].claim("archive", key, owner, ttl_s=300):
                    wins.append((key, owner))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n, w)) for n in range(2) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    per_key = Counter(key for key, _ in wins)
    assert sorted(per_key) == sorted(keys) and set(per_key.values()) == {1}, per_key.most_common(3)
    # Each winner still holds its claim: nobody else can take it until it expires or is released.
    for key, owner in wins:
        assert instances[0].claim("archive", key, "latecomer", ttl_s=300) is False
        assert instances[1].renew("archive", key, owner, ttl_s=300) is True
    for led in instances:
        led.close()


def test_lease_expiry_and_the_sweep_of_long_expired_leases(location: Path | str) -> None:
    clock = Clock(5_000.0)
    ledger = Ledger(location, clock=clock)
    try:
        assert ledger.lease_expiry("poll", "v1") is None
        assert ledger.claim("poll", "v1", "A", ttl_s=2.5) is True
        assert ledger.lease_expiry("poll", "v1") == 5_002.5
        assert ledger.renew("poll", "v1", "A", ttl_s=75) is True
        assert ledger.lease_expiry("poll", "v1") == 5_075.0
        assert ledger.claim("poll", "v2", "A", ttl_s=1) is True
        clock.t += 100  # v2 expired 99 s ago, v1 25 s ago
        assert ledger.sweep_claims(older_than_s=50) == 1
        assert ledger.lease_expiry("poll", "v2") is None and ledger.lease_expiry("poll", "v1") == 5_075.0
    finally:
        ledger.close()


def test_a_delivery_is_remembered_once_across_instances_until_it_expires(location: Path | str) -> None:
    clock = Clock(9_000.0)
    a, b = Ledger(location, clock=clock), Ledger(location, clock=clock)
    try:
        assert a.remember_once("webhook:abc", keep_s=600) is True
        assert b.remember_once("webhook:abc", keep_s=600) is False  # the replay, on the other instance
        assert a.remember_once("webhook:abc", keep_s=600) is False  # and on the first one
        assert b.remember_once("webhook:def", keep_s=600) is True
        clock.t += 601  # past the tolerance the timestamp refuses it; the id may be noted again
        assert b.remember_once("webhook:abc", keep_s=600) is True
        clock.t += 5_000
        a.sweep_claims(older_than_s=60)
        assert b.remember_once("webhook:def", keep_s=600) is True  # swept, so new again
    finally:
        a.close()
        b.close()
