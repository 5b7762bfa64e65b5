"""`repitbot`: run the platform, one service, migrations, admin tasks and the dead-letter queues."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import tempfile

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
    serve = sub.add_parser("serve", help="mesh mode: one service (or the gateway, or the bot) as its own process")
    serve.add_argument("process", choices=("gateway", "bot", *SERVICE_NAMES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    mesh = sub.add_parser("mesh", help="mesh mode: every service as its own process, under supervisord")
    mesh.add_argument("processes", nargs="*", help="only these (default: the nine services and the gateway)")
    mesh.add_argument("--host", default="127.0.0.1")
    mesh.add_argument("--gateway-port", type=int, default=GATEWAY_PORT)
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
    analytics = sub.add_parser("analytics", help="the analytics service's read models")
    analytics.add_argument("action", choices=("rebuild",), help="rebuild: empty them and replay the event store")
    dlq = sub.add_parser("dlq", help="dead-letter queues (RabbitMQ)")
    dlq.add_argument("action", choices=("list", "replay"))
    dlq.add_argument("service", choices=SERVICE_NAMES)
    dlq.add_argument("--queue", help="another queue than <service>.events")
    dlq.add_argument("--json", action="store_true", help="list: the whole of each message, as JSON")
    dlq.add_argument("--wait", type=float, default=30.0,
                     help="replay: seconds to wait for the outcome of the replayed messages")
    keys = sub.add_parser("keys", help="token signing keys (Ed25519)")
    keys.add_argument("action", choices=("generate", "rotate", "list"))
    args = parser.parse_args(argv)
    handler = globals()[f"_cmd_{args.command.replace('-', '_')}"]
    handler(args)


def _settings(*services: str) -> Settings:
    """The settings, after saying on stderr which mode and which databases a command acts on."""
    settings = Settings()
    print(f"repitbot: {settings.describe(services)}", file=sys.stderr, flush=True)
    return settings


def _cmd_run(args: argparse.Namespace) -> None:
    import uvicorn

    from repitbot.embedded import create_embedded_app
    os.environ.setdefault("REPITBOT_MODE", "embedded")
    app = create_embedded_app(_settings(*SERVICE_NAMES), seed=not args.no_seed, host=args.host, port=args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False, **UVICORN_PROXY_OPTIONS)


def _cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn
    os.environ.setdefault("REPITBOT_MODE", "mesh")
    if args.process == "bot":
        _serve_bot(args)
        return
    _settings(*([] if args.process == "gateway" else [args.process]))
    port = args.port or (GATEWAY_PORT if args.process == "gateway" else SERVICE_PORTS[args.process])
    target = ("api_gateway.app:create_app" if args.process == "gateway"
              else f"services.{args.process}.app:create_app")
    uvicorn.run(target, factory=True, host=args.host, port=port, workers=args.workers,
                log_config=None, access_log=False, **UVICORN_PROXY_OPTIONS)


def _serve_bot(args: argparse.Namespace) -> None:
    from telegram_bot.app import serve
    from telegram_bot.settings import BotSettings
    _settings()
    settings = BotSettings(**({"bot_webhook_port": args.port} if args.port else {}))
    asyncio.run(serve(settings))


def _cmd_mesh(args: argparse.Namespace) -> None:
    from repitbot import supervisor
    os.environ.setdefault("REPITBOT_MODE", "mesh")
    settings = _settings(*(p for p in args.processes or SERVICE_NAMES if p != "gateway"))
    if settings.mode != "mesh":
        raise SystemExit("repitbot mesh runs mesh mode: REPITBOT_MODE must be mesh (or unset)")
    programs = supervisor.programs(settings, args.processes, gateway_port=args.gateway_port)
    config = supervisor.write_config(settings, programs, host=args.host)
    print(f"repitbot: supervising {', '.join(p.name for p in programs)}; "
          f"supervisorctl -c {config} status", file=sys.stderr, flush=True)
    supervisor.exec_supervisord(config)


def _cmd_migrate(args: argparse.Namespace) -> None:
    from repitbot.services import service_module
    from shared.db import make_engine
    from shared.migrations import alembic_config, ensure_database, upgrade

    settings = _settings(*args.services)

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
    user_id = asyncio.run(create_admin(_settings("user"), email=args.email, password=password,
                                       full_name=args.full_name))
    print(f"admin {args.email} ready: {user_id}")


def _cmd_seed_demo(_: argparse.Namespace) -> None:
    from repitbot.admin import seed_demo_data
    for line in asyncio.run(seed_demo_data(_settings("user"))):
        print(line)


def _cmd_replay_student(args: argparse.Namespace) -> None:
    from services.student.commands import replay_command
    if args.all == bool(args.student_id):
        raise SystemExit("name one student id, or --all")
    _settings("student")
    lines, consistent = asyncio.run(replay_command(args.student_id, dry_run=args.dry_run))
    for line in lines:
        print(line)
    if not consistent:
        raise SystemExit(1)


def _cmd_analytics(args: argparse.Namespace) -> None:
    from services.analytics.commands import rebuild_command
    _settings("analytics")
    print(f"analytics: rebuilt the read models from {asyncio.run(rebuild_command())} stored events")


def _cmd_dlq(args: argparse.Namespace) -> None:
    from repitbot.dlq import list_command, replay_command
    settings = _settings()
    queue = args.queue or f"{args.service}.events"
    if args.action == "replay":
        asyncio.run(replay_command(settings, queue, wait=args.wait))
    else:
        asyncio.run(list_command(settings, queue, as_json_lines=args.json))


def _cmd_keys(args: argparse.Namespace) -> None:
    from repitbot import keys
    if args.action == "generate":
        keys.generate_command()
        return
    from services.user.settings import UserSettings
    _settings("user")
    settings = UserSettings()
    asyncio.run(keys.rotate_command(settings) if args.action == "rotate" else keys.list_command(settings))


if __name__ == "__main__":
    main(sys.argv[1:])
