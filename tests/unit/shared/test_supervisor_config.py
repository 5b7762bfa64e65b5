"""The supervisord configuration `repitbot mesh` writes, from the same process list as `serve`."""
from pathlib import Path

import pytest

from repitbot.supervisor import config_text, programs
from shared.settings import SERVICE_NAMES, Settings


def test_every_service_and_the_gateway_on_the_ports_of_service_urls():
    settings = Settings(mode="mesh", service_urls={"lesson": ["http://127.0.0.1:9102", "http://10.0.0.6:8002"]})
    progs = programs(settings, gateway_port=9000)
    assert [p.name for p in progs] == [*SERVICE_NAMES, "gateway"]
    ports = {p.name: p.port for p in progs}
    assert ports["lesson"] == 9102 and ports["user"] == 8001 and ports["gateway"] == 9000


def test_an_unknown_process_is_refused():
    with pytest.raises(SystemExit, match="unknown process nope"):
        programs(Settings(mode="mesh"), ["user", "nope"])


def test_each_program_restarts_alone_with_back_off_and_stops_with_its_group():
    text = config_text(programs(Settings(mode="mesh"), ["user", "gateway"]), run_dir=Path("/run/r"),
                       workdir=Path("/srv/100%"), host="127.0.0.1", python="/venv/bin/python")
    sections = text.split("\n\n")
    user = next(s for s in sections if s.startswith("[program:user]"))
    assert "command=/venv/bin/python -m repitbot.cli serve user --host 127.0.0.1 --port 8001" in user
    for line in ("autorestart=true", "startretries=5", "startsecs=10", "stopasgroup=true", "killasgroup=true",
                 "directory=/srv/100%%"):
        assert line in user
    assert "nodaemon=true" in text and "[program:gateway]" in text
