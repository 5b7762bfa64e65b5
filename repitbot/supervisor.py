"""Mesh mode on one host: every process of the platform under supervisord.

`repitbot mesh` writes a supervisord configuration from the process list (the nine services
of `SERVICE_NAMES`, then the gateway) and replaces itself with supervisord in the foreground:
Ctrl-C or SIGTERM stops every process. A process that exits is started again on its own and
the others are left alone; one that dies again within `START_SECONDS` of a start is retried
with a growing back-off (1 s, 2 s, 3 s, ...) and given up after `START_RETRIES` attempts
(`supervisorctl ... start <name>` tries again). Nothing here reads `.env`: every process reads
it itself with pydantic-settings, from the directory `repitbot mesh` was started in.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shared.settings import GATEWAY_PORT, SERVICE_NAMES, Settings

START_SECONDS = 10         # a process that lived this long counts as started
START_RETRIES = 5          # restarts with back-off of a process that keeps dying while starting
STOP_WAIT_SECONDS = 15     # from SIGTERM to SIGKILL on stop


@dataclass(frozen=True)
class Program:
    name: str
    port: int


def programs(settings: Settings, names: list[str] | None = None, *, gateway_port: int = GATEWAY_PORT) -> list[Program]:
    """The processes to run: each service on the port of its first URL, then the gateway, then the
    Telegram bot when BOT_TOKEN is set (said on stderr when it is not)."""
    chosen = names or [*SERVICE_NAMES, "gateway", *(["bot"] if _bot_configured(settings) else [])]
    unknown = [n for n in chosen if n not in ("gateway", "bot") and n not in SERVICE_NAMES]
    if unknown:
        raise SystemExit(f"unknown process {', '.join(unknown)}; one of: gateway, bot, {', '.join(SERVICE_NAMES)}")
    return [Program(name, _port(settings, name, gateway_port)) for name in chosen]


def _bot_configured(settings: Settings) -> bool:
    if settings.bot_token and settings.bot_token.get_secret_value():
        return True
    print("repitbot: BOT_TOKEN is not set: the Telegram bot is not started", file=sys.stderr, flush=True)
    return False


def _port(settings: Settings, name: str, gateway_port: int) -> int:
    if name == "gateway":
        return gateway_port
    if name == "bot":    # its webhook server's port (unused in long polling)
        from telegram_bot.settings import BotSettings
        return BotSettings().bot_webhook_port
    return _port_of(settings.urls_of(name)[0])


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def config_text(progs: list[Program], *, run_dir: Path, workdir: Path, host: str,
                python: str = sys.executable) -> str:
    """A supervisord configuration running `repitbot serve <name>` for each program."""
    def esc(value: object) -> str:        # supervisord expands %(name)s in values
        return str(value).replace("%", "%%")

    sections = [
        "[supervisord]", "nodaemon=true", f"logfile={esc(run_dir / 'supervisord.log')}",
        f"pidfile={esc(run_dir / 'supervisord.pid')}", f"childlogdir={esc(run_dir)}",
        f"directory={esc(workdir)}", "loglevel=info", "",
        "[unix_http_server]", f"file={esc(run_dir / 'supervisor.sock')}", "chmod=0700", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{esc(run_dir / 'supervisor.sock')}", "",
    ]
    for prog in progs:
        sections += [
            f"[program:{prog.name}]",
            f"command={esc(python)} -m repitbot.cli serve {prog.name} --host {esc(host)} --port {prog.port}",
            f"directory={esc(workdir)}", "autostart=true", "autorestart=true",
            f"startsecs={START_SECONDS}", f"startretries={START_RETRIES}",
            "stopsignal=TERM", f"stopwaitsecs={STOP_WAIT_SECONDS}", "stopasgroup=true", "killasgroup=true",
            # the processes' JSON logs go to supervisord's own output (the terminal, or journald)
            "redirect_stderr=true", "stdout_logfile=/dev/stdout", "stdout_logfile_maxbytes=0", "",
        ]
    return "\n".join(sections)


def write_config(settings: Settings, progs: list[Program], *, host: str) -> Path:
    """Write the configuration under VAR_DIR/mesh (created) and return its path."""
    workdir = Path.cwd()
    run_dir = (workdir / settings.var_dir / "mesh").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "supervisord.conf"
    path.write_text(config_text(progs, run_dir=run_dir, workdir=workdir, host=host))
    return path


def exec_supervisord(config: Path) -> None:
    """Replace this process with supervisord in the foreground."""
    os.environ["REPITBOT_MODE"] = "mesh"
    os.execv(sys.executable, [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(config)])
