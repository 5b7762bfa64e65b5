"""What studying costs the dictionary service on PostgreSQL: a student with 20,000 cards in 10
decks (shared by their teacher), half of them already studied, asks what is due and reviews.

    python -m bench.dictionary [--requests 300]
    python -m bench.dictionary --baseline DIR [--rounds 6] [--requests 100]

With `--baseline DIR` (another commit, e.g. `git archive <commit> | tar -x -C DIR`) the service of
this tree and the one of DIR take turns (`bench/compare.py`) on the same seeded database: the ratios
within one run are what a shared, noisy machine can show.

PostgreSQL (and RabbitMQ, Redis) are started here as the test suite starts them; the service runs
in this process with its real app (routing, token check, the unit of work, the outbox) and is
called through an in-process HTTP client, so a timing is the whole request but no network hop.
Targets: `GET /api/v1/decks/{id}/due` under 20 ms at p95, a review under 10 ms at p95.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from services.dictionary.app import create_app
from services.dictionary.models import Card, CardState, Deck
from services.dictionary.roster import people
from services.dictionary.settings import DictionarySettings
from shared.bus import InMemoryBus
from shared.events import utcnow
from shared.redis_factory import make_redis
from shared.runtime import Runtime
from tests.support import TestKeys, running

DECKS, CARDS_PER_DECK = 10, 2_000
RATINGS = ("again", "hard", "good", "good", "good", "easy")


async def seed(app, teacher: uuid.UUID, student: uuid.UUID) -> list[tuple[uuid.UUID, list[uuid.UUID]]]:
    """The decks and cards, and a state for every other card: a tenth of those due now."""
    now, decks = utcnow(), []
    async with app.state.uow_factory() as uow:
        await people.link_teacher(uow.session, teacher, student)
        for d in range(DECKS):
            deck = Deck(id=uuid.uuid4(), owner_id=teacher, owner_role="teacher", title=f"Deck {d}",
                        source_lang="en", target_lang="ru", new_per_day=20, desired_retention=0.9,
                        shared_with_all=True, created_at=now, updated_at=now)
            uow.session.add(deck)
            cards = [{"id": uuid.uuid4(), "deck_id": deck.id, "term": f"word {d}-{n}", "term_key": f"word {d}-{n}",
                      "translation": f"слово {n}", "transcription": None, "example": None, "tags": [],
                      "audio_key": None, "audio_type": None, "image_key": None, "image_type": None,
                      "position": n, "created_at": now, "updated_at": now} for n in range(CARDS_PER_DECK)]
            await uow.session.flush()
            uow.insert_rows(Card.__table__, cards)
            uow.insert_rows(CardState.__table__, [_state(student, deck.id, c["id"], n, now)
                                                  for n, c in enumerate(cards) if n % 2 == 0])
            decks.append((deck.id, [c["id"] for c in cards]))
        await uow.commit()
    return decks


def _state(student: uuid.UUID, deck_id: uuid.UUID, card_id: uuid.UUID, n: int, now) -> dict:
    due = now - timedelta(hours=n % 7) if n % 20 == 0 else now + timedelta(days=1 + n % 60)
    return {"student_id": student, "card_id": card_id, "deck_id": deck_id, "state": 2, "step": None,
            "stability": 5.0 + n % 40, "difficulty": 5.0, "due": due, "last_review": now - timedelta(days=3),
            "reps": 3, "lapses": 0}


async def measure(client, headers: dict[str, str], decks, requests: int) -> dict[str, list[float]]:
    """Wall-clock seconds of each request: a deck (the baseline of one primary-key read), its due
    cards, a review; and the CPU seconds of this process for the due cards and the review."""
    times: dict[str, list[float]] = {"deck": [], "due": [], "review": [], "deck cpu": [], "due cpu": [],
                                     "review cpu": []}
    for _ in range(requests):
        deck_id, cards = random.choice(decks)
        started, cpu = time.perf_counter(), time.process_time()
        assert (await client.get(f"/api/v1/decks/{deck_id}", headers=headers)).status_code == 200
        times["deck"].append(time.perf_counter() - started)
        times["deck cpu"].append(time.process_time() - cpu)
        started, cpu = time.perf_counter(), time.process_time()
        due = await client.get(f"/api/v1/decks/{deck_id}/due", params={"limit": 50}, headers=headers)
        times["due"].append(time.perf_counter() - started)
        times["due cpu"].append(time.process_time() - cpu)
        assert due.status_code == 200, due.text
        card = random.choice(due.json()["items"] or [{"card": {"id": str(random.choice(cards))}}])["card"]["id"]
        started, cpu = time.perf_counter(), time.process_time()
        answer = await client.post(f"/api/v1/cards/{card}/reviews", json={"rating": random.choice(RATINGS)},
                                   headers=headers)
        times["review"].append(time.perf_counter() - started)
        times["review cpu"].append(time.process_time() - cpu)
        assert answer.status_code == 201, answer.text
    return times


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000


def app_of(url: str, keys: TestKeys):
    settings = DictionarySettings(mode="mesh", environment="test", var_dir=Path(tempfile.mkdtemp()), database_url=url)
    return create_app(settings, Runtime(bus=InMemoryBus(), redis=make_redis(None), key_source=keys))


def ms(times: dict[str, list[float]]) -> dict[str, list[float]]:
    return {name: [value * 1000 for value in values] for name, values in times.items()}


async def run(args: argparse.Namespace) -> None:
    from tests.servers import start_servers, stop_servers
    servers = start_servers(Path(tempfile.mkdtemp(prefix="repitbot-bench-")))
    try:
        keys, url = TestKeys(), servers.create_database(f"bench_dictionary_{uuid.uuid4().hex[:6]}")
        app = app_of(url, keys)
        async with running(app) as client:
            teacher, student = uuid.uuid4(), uuid.uuid4()
            started = time.perf_counter()
            decks = await seed(app, teacher, student)
            print(f"seeded {DECKS * CARDS_PER_DECK} cards, {DECKS * CARDS_PER_DECK // 2} states "
                  f"in {time.perf_counter() - started:.1f} s")
            if args.baseline is None:
                headers = keys.headers(student, "student")
                await measure(client, headers, decks, 20)                       # warm-up
                times = await measure(client, headers, decks, args.requests)
        if args.baseline is not None:
            await asyncio.to_thread(compare, url, student, decks, args)
            return
        for name, values in times.items():
            print(f"{name:10}  n={len(values)}  p50 {p(values, 50):6.2f} ms  p95 {p(values, 95):6.2f} ms  "
                  f"max {max(values) * 1000:6.2f} ms")
        print("targets: due p95 < 20 ms, review p95 < 10 ms")
    finally:
        stop_servers()


def compare(url: str, student: uuid.UUID, decks, args: argparse.Namespace) -> None:
    """This tree's service against the baseline's, in alternating rounds of `--requests` rounds."""
    from bench.compare import alternate, report
    from bench.compare import worker as run_worker

    seeded = Path(tempfile.mkdtemp(prefix="repitbot-bench-")) / "seeded.json"
    seeded.write_text(json.dumps({"student": str(student),
                                  "decks": [[str(deck), [str(card) for card in cards]] for deck, cards in decks]}))
    results = alternate(args.baseline, args.rounds, lambda name, tree: run_worker(
        Path(__file__), tree, ["--database-url", url, "--seeded", str(seeded), "--requests", str(args.requests)]))
    print(f"dictionary, {args.rounds} rounds of {args.requests} requests per tree (old: {args.baseline}):")
    report(results)
    print("targets: due p95 < 20 ms, review p95 < 10 ms")


async def worker(args: argparse.Namespace) -> None:
    """The measuring part alone, on the code of the tree in PYTHONPATH, against the seeded database."""
    import services
    seeded = json.loads(Path(args.seeded).read_text())
    decks = [(uuid.UUID(deck), [uuid.UUID(card) for card in cards]) for deck, cards in seeded["decks"]]
    keys = TestKeys()
    async with running(app_of(args.database_url, keys)) as client:
        headers = keys.headers(uuid.UUID(seeded["student"]), "student")
        await measure(client, headers, decks, 20)                       # warm-up
        times = await measure(client, headers, decks, args.requests)
    print(f"code of {Path(services.__file__).resolve().parent.parent}", file=sys.stderr)
    print(json.dumps(ms(times)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--baseline", type=Path, help="compare with the code of the tree in this directory "
                        "(another commit, extracted), in alternating rounds on the same data")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per tree with --baseline")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--seeded", help=argparse.SUPPRESS)
    args = parser.parse_args()
    asyncio.run(worker(args) if args.worker else run(args))


if __name__ == "__main__":
    main()
