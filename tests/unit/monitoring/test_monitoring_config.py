"""The monitoring configuration, the compose files and the image agree with the code.

promtool validates the Prometheus configuration and the alert rules and runs the rules'
unit tests; every Grafana panel and every alert must query metrics the project defines;
the compose files are parsed and checked (there is no container engine in the test run).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.settings import GATEWAY_PORT, SERVICE_NAMES, SERVICE_PORTS

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS_DIR = ROOT / "monitoring" / "prometheus"
GRAFANA_DIR = ROOT / "monitoring" / "grafana"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
MESH_COMPOSE = ROOT / "docker-compose.microservices.yml"
TEST_COMPOSE = ROOT / "docker-compose.test.yml"
PROCESSES = {"gateway": GATEWAY_PORT, **SERVICE_PORTS}

# Metrics that dashboards and alerts use before the service that exports them has them (payment,
# for one): listed so that a dashboard is not failed for them; once in the code, the grep below
# finds them anyway.
ANNOUNCED_METRICS = {
    "repitbot_xp_awarded_total", "repitbot_achievements_awarded_total", "repitbot_level_ups_total",
    "repitbot_lessons_completed_total", "repitbot_notifications_sent_total",
    "repitbot_notifications_failed_total", "repitbot_payments_total",
    "repitbot_gateway_breaker_state", "repitbot_gateway_rate_limited_total",
    "repitbot_gateway_upstream_errors_total",
}
# Metrics from outside the project's code, by where they come from.
EXTERNAL_METRICS = {
    "prometheus": {"up", "ALERTS"},
    "prometheus_client process collector": {"process_resident_memory_bytes", "process_cpu_seconds_total"},
    "RabbitMQ prometheus plugin, /metrics/per-object": {
        "rabbitmq_queue_messages", "rabbitmq_queue_messages_ready", "rabbitmq_queue_messages_unacked",
        "rabbitmq_queue_consumers", "rabbitmq_connections", "rabbitmq_channels",
        "rabbitmq_global_messages_received_total", "rabbitmq_global_messages_delivered_total",
        "rabbitmq_global_messages_acknowledged_total"},
    "postgres_exporter": {
        "pg_up", "pg_database_size_bytes", "pg_stat_database_numbackends", "pg_stat_database_xact_commit",
        "pg_stat_database_xact_rollback", "pg_stat_database_deadlocks"},
}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
    "histogram_quantile", "vector", "scalar", "absent", "clamp_min", "clamp_max", "abs", "ceil", "floor",
    "round", "sort", "sort_desc", "time", "timestamp", "label_replace", "label_join", "predict_linear",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time",
}
SECRET_NAME = re.compile(r"(PASSWORD|_PASS|SECRET|PRIVATE_KEY)$|^BOT_TOKEN$")
FROM_ENVIRONMENT = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:\?[^}]+|:-)?\}$")
COMPOSE_SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes",
    "tmpfs", "networks", "hostname", "healthcheck", "depends_on", "restart", "stop_grace_period",
    "profiles", "user", "working_dir", "labels", "logging", "deploy", "read_only",
}
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}


# --- helpers ------------------------------------------------------------------------------

def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: install Prometheus (Debian/Ubuntu: apt-get install "
                    "prometheus; `make test` does it through scripts/install-system-deps.sh)")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def known_metrics() -> set[str]:
    names = set(ANNOUNCED_METRICS)
    for folder in ("shared", "services", "api_gateway"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(re.findall(r"repitbot_[a-z_]+", path.read_text()))
    for group in EXTERNAL_METRICS.values():
        names.update(group)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords and labels removed)."""
    text = re.sub(r"\$\w+", "", expr)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    words = re.findall(r"(?<![\w.])[a-zA-Z_:][\w:]*", text)
    return {word for word in words if word not in PROMQL_WORDS}


def unknown_metrics(expr: str, known: set[str]) -> set[str]:
    base = {re.sub(r"_(bucket|count|sum)$", "", name) if name not in known else name
            for name in metric_names(expr)}
    return base - known


def panels(dashboard: dict) -> list[dict]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def data_panels(dashboard: dict) -> list[dict]:
    return [panel for panel in panels(dashboard) if panel["type"] != "row"]


def dashboard_exprs() -> list[tuple[str, str]]:
    """The PromQL of every panel (SQL panels on the analytics database are tested in
    tests/integration/analytics/test_grafana_panels.py)."""
    return [(f"{path.name}: {panel['title']}", target["expr"])
            for path in DASHBOARDS for panel in data_panels(json.loads(path.read_text()))
            for target in panel["targets"] if "rawSql" not in target]


def alert_rules() -> list[dict]:
    return [rule for group in load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"] for rule in group["rules"]]


def compose_services(path: Path) -> dict[str, dict]:
    return load_yaml(path)["services"]


# --- Prometheus ---------------------------------------------------------------------------

def test_prometheus_config_is_valid_and_loads_the_alert_rules():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout
    for rule_file in load_yaml(PROMETHEUS_DIR / "prometheus.yml")["rule_files"]:
        assert (PROMETHEUS_DIR / rule_file).is_file()


def test_alert_rules_are_valid():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rule_unit_tests_pass():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_both_firing_and_quiet():
    cases = [case for test in load_yaml(PROMETHEUS_DIR / "alerts_test.yml")["tests"]
             for case in test.get("alert_rule_test", [])]
    for rule in alert_rules():
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case.get("exp_alerts") for case in mine), f"{rule['alert']}: no firing case"
        assert any(not case.get("exp_alerts") for case in mine), f"{rule['alert']}: no quiet case"


def test_the_required_alerts_exist():
    names = {rule["alert"] for rule in alert_rules()}
    assert {"TargetDown", "HighServerErrorRate", "HighLatencyP99", "OutboxBacklogStale", "EventsDeadLettered",
            "CircuitBreakerOpen", "RateLimitRejectionsSurging", "EventHandlerFailures"} <= names


def test_alerts_query_metrics_the_project_defines():
    known = known_metrics()
    for rule in alert_rules():
        assert metric_names(rule["expr"]), rule["alert"]
        assert not unknown_metrics(rule["expr"], known), (rule["alert"], unknown_metrics(rule["expr"], known))


def test_prometheus_scrapes_the_gateway_every_service_and_rabbitmq_with_a_service_label():
    jobs = {job["job_name"]: job for job in load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]}
    targets = {target: (job, group["labels"]["service"])
               for job in jobs.values() for group in job["static_configs"] for target in group["targets"]}
    for name, port in PROCESSES.items():
        job, label = targets[f"{name}:{port}"]
        assert label == name
        assert job["honor_labels"] is True      # the metrics' own `service` label wins
    assert jobs["gateway"]["metrics_path"] == "/gateway/metrics"
    assert targets["rabbitmq:15692"][1] == "rabbitmq"
    assert jobs["rabbitmq"]["metrics_path"] == "/metrics/per-object"


# --- Grafana ------------------------------------------------------------------------------

def test_the_five_dashboards_exist():
    assert {path.name for path in DASHBOARDS} == {
        "system-overview.json", "gateway.json", "events.json", "databases.json", "teacher.json"}


def test_datasources_provide_prometheus_and_the_analytics_database():
    sources = {s["uid"]: s for s in load_yaml(GRAFANA_DIR / "provisioning/datasources/datasources.yml")["datasources"]}
    assert sources["prometheus"]["type"] == "prometheus"
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    analytics = sources["analytics"]
    assert analytics["type"] == "postgres"
    assert analytics["jsonData"]["database"] == "repitbot_analytics"
    assert analytics["secureJsonData"]["password"].startswith("$")   # from the environment, never literal


def test_dashboard_provider_reads_the_folder_compose_mounts():
    provider = load_yaml(GRAFANA_DIR / "provisioning/dashboards/dashboards.yml")["providers"][0]
    mounts = compose_services(MESH_COMPOSE)["grafana"]["volumes"]
    assert f"./monitoring/grafana/dashboards:{provider['options']['path']}:ro" in mounts


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_valid_grafana_json(path):
    dashboard = json.loads(path.read_text())
    provisioned = {s["uid"] for s in load_yaml(GRAFANA_DIR / "provisioning/datasources/datasources.yml")["datasources"]}
    assert dashboard["uid"] and dashboard["title"] and dashboard["description"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in data_panels(dashboard):
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys() and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        assert panel["datasource"]["uid"] in provisioned, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert all((target.get("expr") or target.get("rawSql", "")).strip() and target["refId"]
                   for target in panel["targets"]), panel["title"]


def test_dashboard_uids_are_unique():
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids))


def test_every_panel_queries_metrics_the_project_defines():
    known = known_metrics()
    for where, expr in dashboard_exprs():
        assert metric_names(expr), f"{where}: no metric in {expr!r}"
        assert not unknown_metrics(expr, known), f"{where}: unknown {unknown_metrics(expr, known)} in {expr!r}"


def test_every_panel_query_is_valid_promql(tmp_path):
    def concrete(expr: str) -> str:
        return re.sub(r"\$\w+", ".*", re.sub(r"\$__(rate_interval|interval|range)", "5m", expr))
    rules = [{"record": f"dashboard:query_{i}:check", "expr": concrete(expr)}
             for i, (_, expr) in enumerate(dashboard_exprs())]
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = promtool("check", "rules", "queries.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_variables_read_known_metrics():
    known = known_metrics()
    for path in DASHBOARDS:
        for variable in json.loads(path.read_text())["templating"]["list"]:
            if variable["datasource"]["uid"] == "analytics":   # SQL: tested on PostgreSQL with the panels
                continue
            metric = re.fullmatch(r"label_values\((\w+), *(\w+)\)", variable["definition"])
            assert metric and metric.group(1) in known, (path.name, variable["name"])


def test_teacher_dashboard_points_to_the_analytics_database_for_per_student_tables():
    teacher = json.loads((GRAFANA_DIR / "dashboards/teacher.json").read_text())
    assert "repitbot_analytics" in teacher["description"]
    assert teacher["templating"]["list"]
    queried = set().union(*(metric_names(expr) for where, expr in dashboard_exprs() if where.startswith("teacher")))
    assert {"repitbot_xp_awarded_total", "repitbot_achievements_awarded_total",
            "repitbot_lessons_completed_total"} <= queried


def test_metric_name_extraction_ignores_functions_labels_and_durations():
    expr = ('histogram_quantile(0.99, sum by (service, le) (rate(foo_bucket{service=~"$service"}[5m])))'
            ' or sum(bar_total offset 10m) > 3 * vector(0)')
    assert metric_names(expr) == {"foo_bucket", "bar_total"}
    assert unknown_metrics(expr, {"foo", "bar_total"}) == set()
    assert unknown_metrics(expr, {"bar_total"}) == {"foo"}


# --- compose files, image, database init ----------------------------------------------------

def test_mesh_compose_runs_the_gateway_and_every_service_with_a_readiness_healthcheck():
    services = compose_services(MESH_COMPOSE)
    for name, port in PROCESSES.items():
        service = services[name]
        assert service["command"] == ["repitbot", "serve", name, "--host", "0.0.0.0"]
        assert f"127.0.0.1:{port}/health/ready" in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["REPITBOT_MODE"] == "mesh"
        assert service["build"] == "." and service["image"] == "repitbot:local"
        for server in ("postgres", "rabbitmq", "redis"):
            assert service["depends_on"][server]["condition"] == "service_healthy"
    assert all(services["gateway"]["depends_on"][name]["condition"] == "service_healthy" for name in SERVICE_NAMES)


def test_mesh_compose_points_services_at_each_other_by_container_name():
    environment = compose_services(MESH_COMPOSE)["lesson"]["environment"]
    urls = json.loads(environment["SERVICE_URLS"])
    assert urls == {name: [f"http://{name}:{port}"] for name, port in SERVICE_PORTS.items()}
    assert environment["POSTGRES_HOST"] == "postgres" and environment["RABBITMQ_HOST"] == "rabbitmq"
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")


def test_mesh_compose_has_servers_and_monitoring_wired_to_this_repository():
    services = compose_services(MESH_COMPOSE)
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.") and "management" in services["rabbitmq"]["image"]
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"].startswith("redis:7")
    assert "./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/init.sql:ro" in services["postgres"]["volumes"]
    assert "./monitoring/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in services["grafana"]["volumes"]
    for compose in (MESH_COMPOSE, TEST_COMPOSE):
        for service in compose_services(compose).values():
            for mount in service.get("volumes", []):
                if mount.startswith("./"):
                    assert (ROOT / mount.split(":")[0]).exists(), mount


@pytest.mark.parametrize("path", [MESH_COMPOSE, TEST_COMPOSE], ids=lambda p: p.name)
def test_compose_services_use_known_keys_and_existing_dependencies(path):
    services = compose_services(path)
    for name, service in services.items():
        assert set(service) <= COMPOSE_SERVICE_KEYS, (name, set(service) - COMPOSE_SERVICE_KEYS)
        assert set(service.get("healthcheck", {})) <= HEALTHCHECK_KEYS, name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services and condition["condition"] in {
                "service_started", "service_healthy", "service_completed_successfully"}
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], dependency


def test_compose_secrets_come_from_the_environment_never_literals():
    services = compose_services(MESH_COMPOSE)
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert FROM_ENVIRONMENT.match(str(value)), f"{name}.{key} = {value!r}"
    required = {"POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "GRAFANA_ANALYTICS_DB_PASSWORD"}
    for key in required:
        assert services["gateway" if key != "GRAFANA_ANALYTICS_DB_PASSWORD" else "postgres"]["environment"][
            key].startswith(f"${{{key}:?")
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")


def test_test_compose_serves_the_three_servers_on_the_documented_loopback_ports():
    services = compose_services(TEST_COMPOSE)
    assert set(services) == {"postgres", "rabbitmq", "redis"}
    for service in services.values():
        assert service["healthcheck"]
        assert all(port.startswith("127.0.0.1:") for port in service["ports"])
    published = {name: {int(p.split(":")[1]) for p in service["ports"]} for name, service in services.items()}
    documented = dict(re.findall(r"export REPITBOT_TEST_(\w+)_(?:DSN|URL)=\S+?:(\d+)", TEST_COMPOSE.read_text()))
    assert {name.lower(): int(port) for name, port in documented.items()} == {
        "postgres": min(published["postgres"]), "rabbitmq": min(published["rabbitmq"]),
        "redis": min(published["redis"])}


def test_image_installs_the_lock_then_the_project_without_dependencies():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    lock = dockerfile.index("pip install -r requirements.lock")
    assert lock < dockerfile.index("COPY . ./") < dockerfile.index("pip install --no-deps .")
    assert "USER repitbot" in dockerfile
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "var/", "tests/"} <= ignored


def test_postgres_init_creates_one_database_per_service():
    sql = (ROOT / "deploy/postgres/init.sql").read_text()
    array = re.search(r"ARRAY\[([^\]]*)\]", sql).group(1)
    assert re.findall(r"'(\w+)'", array) == list(SERVICE_NAMES)
    assert "grafana_reader" in sql and "GRANT CONNECT ON DATABASE repitbot_analytics TO grafana_reader" in sql
