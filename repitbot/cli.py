"""`repitbot`: run the platform, one service, migrations, admin tasks and the dead-letter queues."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import tempfile
from pathlib import Path

from shared.settings import GATEWAY_PORT, SERVICE_NAMES, SERVICE_PORTS, Settings

# uvicorn would believe X-Forwarded-For from any loopback peer; every process decides who the
# client is itself, from TRUSTED_PROXIES (shared/addresses.py)
UVICORN_PROXY_OPTIONS = {"proxy_headers": False, "forwarded_allow_ips": ""}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="repitbot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="embedded mode: gateway and all nine services in one process")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=GATEWAY_PORT)
    run.add_argument("--no-seed", action="store_true", help="do not seed the demo data")
    serve = sub.add_parser("serve", help="mesh mode: one service (or the gateway) as its own process")
    serve.add_argument("process", choices=("gateway", *SERVICE_NAMES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    sub.add_parser("mesh", help="mesh mode: every service as its own process (honcho)")
    migrate = sub.add_parser("migrate", help="bring service databases to the newest schema")
    migrate.add_argument("services", nargs="*", default=list(SERVICE_NAMES))
    makemigrations = sub.add_parser("makemigrations", help="autogenerate a migration (developers)")
    makemigrations.add_argument("service", choices=SERVICE_NAMES)
    makemigrations.add_argument("-m", "--message", required=True)
    admin = sub.add_parser("create-admin", help="create an administrator account")
    admin.add_argument("--email", required=True)
    admin.add_argument("--full-name", default="Administrator")
    admin.add_argument("--password", help="read from REPITBOT_ADMIN_PASSWORD or asked when absent")
    sub.add_parser("seed-demo", help="create the demo accounts (idempotent)")
    replay = sub.add_parser("replay-student", help="rebuild students' gamification state from their stored facts")
    replay.add_argument("student_id", nargs="?", help="the student's id (or --all)")
    replay.add_argument("--all", action="store_true", help="every student with stored progress")
    replay.add_argument("--dry-run", action="store_true", help="only compare with the stored state")
    dlq = sub.add_parser("dlq", help="dead-letter queues (RabbitMQ)")
    dlq.add_argument("action", choices=("list", "replay"))
    dlq.add_argument("service", choices=SERVICE_NAMES)
    dlq.add_argument("--queue", help="another queue than <service>.events")
    args = parser.parse_args(argv)
    handler = globals()[f"_cmd_{args.command.replace('-', '_')}"]
    handler(args)


def _cmd_run(args: argparse.Namespace) -> None:
    import uvicorn

    from repitbot.embedded import create_embedded_app
    os.environ.setdefault("REPITBOT_MODE", "embedded")
    app = create_embedded_app(Settings(), seed=not args.no_seed, host=args.host, port=args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False, **UVICORN_PROXY_OPTIONS)


def _cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn
    os.environ.setdefault("REPITBOT_MODE", "mesh")
    port = args.port or (GATEWAY_PORT if args.process == "gateway" else SERVICE_PORTS[args.process])
    target = ("api_gateway.app:create_app" if args.process == "gateway"
              else f"services.{args.process}.app:create_app")
    uvicorn.run(target, factory=True, host=args.host, port=port, workers=args.workers,
                log_config=None, access_log=False, **UVICORN_PROXY_OPTIONS)


def _cmd_mesh(_: argparse.Namespace) -> None:
    serve = f"{sys.executable} -m repitbot.cli serve"
    lines = [f"{name}: {serve} {name}" for name in (*SERVICE_NAMES, "gateway")]
    with tempfile.NamedTemporaryFile("w", suffix=".Procfile", delete=False) as procfile:
        procfile.write("\n".join(lines) + "\n")
    os.environ.setdefault("REPITBOT_MODE", "mesh")
    os.execv(sys.executable, [sys.executable, "-m", "honcho", "start", "-f", procfile.name,
                              "-d", str(Path.cwd())])


def _cmd_migrate(args: argparse.Namespace) -> None:
    from repitbot.services import service_module
    from shared.db import make_engine
    from shared.migrations import alembic_config, ensure_database, upgrade

    settings = Settings()

    async def go() -> None:
        for name in args.services:
            spec = service_module(name).SPEC
            await ensure_database(settings.database_url_for(name))
            engine = make_engine(settings.database_url_for(name))
            await upgrade(engine, alembic_config(name, spec.versions_dir, spec.metadata))
            await engine.dispose()
            print(f"{name}: at head")
    if settings.mode == "embedded":
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(go())


def _cmd_makemigrations(args: argparse.Namespace) -> None:
    from repitbot.services import service_module
    from shared.db import make_engine
    from shared.migrations import alembic_config, make_revision

    spec = service_module(args.service).SPEC

    async def go() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite+aiosqlite:///{tmp}/scratch.db")
            await make_revision(engine, alembic_config(args.service, spec.versions_dir, spec.metadata),
                                args.message)
            await engine.dispose()
    asyncio.run(go())


def _cmd_create_admin(args: argparse.Namespace) -> None:
    from repitbot.admin import create_admin
    password = args.password or os.environ.get("REPITBOT_ADMIN_PASSWORD") or getpass.getpass("Password: ")
    user_id = asyncio.run(create_admin(Settings(), email=args.email, password=password,
                                       full_name=args.full_name))
    print(f"admin {args.email} ready: {user_id}")


def _cmd_seed_demo(_: argparse.Namespace) -> None:
    from repitbot.admin import seed_demo_data
    for line in asyncio.run(seed_demo_data(Settings())):
        print(line)


def _cmd_replay_student(args: argparse.Namespace) -> None:
    from services.student.commands import replay_command
    if args.all == bool(args.student_id):
        raise SystemExit("name one student id, or --all")
    lines, consistent = asyncio.run(replay_command(args.student_id, dry_run=args.dry_run))
    for line in lines:
        print(line)
    if not consistent:
        raise SystemExit(1)


def _cmd_dlq(args: argparse.Namespace) -> None:
    from shared.rabbit import RabbitBus
    settings = Settings()

    async def go() -> None:
        bus = RabbitBus(settings.amqp_url())
        try:
            queue = args.queue or f"{args.service}.events"
            if args.action == "replay":
                print(f"replayed {await bus.replay_dead_letters(queue)} message(s) to {queue}")
                return
            letters = await bus.dead_letters(queue)
            for letter in letters:
                event = letter.event()
                ident = f"{event.type} {event.id}" if event else letter.routing_key
                print(f"{ident}  attempts={letter.attempts}  reason={letter.reason}")
            print(f"{len(letters)} parked message(s) in {queue}.dlq")
        finally:
            await bus.close()
    asyncio.run(go())


if __name__ == "__main__":
    main(sys.argv[1:])
