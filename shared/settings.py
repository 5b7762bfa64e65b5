"""Settings read from the environment (twelve-factor). Defaults give the embedded mode."""
from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = (
    "user", "lesson", "homework", "payment", "material",
    "notification", "analytics", "student", "dictionary",
)
SERVICE_PORTS = {name: 8001 + i for i, name in enumerate(SERVICE_NAMES)}
GATEWAY_PORT = 8000


class MissingSecret(RuntimeError):
    """A secret has no value in production."""


class Settings(BaseSettings):
    """Settings every process shares. Services subclass it for their own knobs."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True,
                                      env_ignore_empty=True)

    environment: Literal["local", "test", "production"] = "local"
    mode: Literal["embedded", "mesh"] = Field("embedded", alias="REPITBOT_MODE")
    var_dir: Path = Path("var")
    log_level: str = "INFO"
    log_json: bool = True
    # Traces, under OpenTelemetry's own variable names (docs/observability.md); off by default
    otel_traces_exporter: Literal["none", "otlp", "console"] = "none"
    otel_exporter_otlp_endpoint: str = "http://127.0.0.1:4318"
    otel_service_name: str | None = None

    database_url: str | None = None
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "repitbot"
    postgres_password: SecretStr | None = None
    postgres_db_prefix: str = "repitbot_"
    database_pool_size: int = 10

    rabbitmq_url: str | None = None
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_user: str = "guest"
    rabbitmq_password: SecretStr | None = None
    rabbitmq_vhost: str = "/"
    event_max_attempts: int = 5
    event_prefetch: int = 200        # deliveries in flight per consumer (room for two batches)
    event_batch_size: int = Field(100, gt=0)  # events a consumer writes in one transaction at most

    redis_url: str | None = None

    jwt_issuer: str = "repitbot"
    jwt_audience: str = "repitbot-api"
    jwt_algorithm: Literal["EdDSA", "RS256"] = "EdDSA"
    jwt_access_token_expire_minutes: int = 15
    jwt_refresh_token_expire_days: int = 30
    jwt_private_key: SecretStr | None = None
    jwks_url: str | None = None
    token_cache_size: int = 10_000   # verified tokens kept (revocation is still checked on each request)

    service_urls: dict[str, list[str]] = Field(default_factory=dict)
    public_base_url: str = "http://127.0.0.1:8000"
    bot_token: SecretStr | None = None
    bot_username: str = "RepitBot"
    storage_dir: Path | None = None
    # Peers (addresses or networks) whose X-Forwarded-For is believed: the ingress in front of
    # the gateway, the gateway in front of a service. Empty: the peer is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    max_json_body_bytes: int = 1_048_576

    revocation_grace_seconds: float = Field(300.0, ge=0)  # answer from the last revocation copy this long while Redis is away
    metrics_token: SecretStr | None = None   # when set, /metrics asks for `Authorization: Bearer <token>`

    @model_validator(mode="after")
    def _refuse_missing_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        missing = [name.upper() for name in self.required_production_secrets() if not self._has(name)]
        if self.mode != "mesh":  # SQLite files, in-process queues and counters: nothing shared
            missing.insert(0, "REPITBOT_MODE=mesh")
        if missing:
            raise MissingSecret("ENVIRONMENT=production needs these variables set: " + ", ".join(missing))
        return self

    def required_production_secrets(self) -> list[str]:
        """What production needs set: each shared dependency (PostgreSQL, RabbitMQ, Redis), and the
        token that keeps the metrics from anyone who can reach a port."""
        needed: list[str] = ["metrics_token"]
        if not self.database_url:
            needed.append("postgres_password")
        if not self.rabbitmq_url:
            needed.append("rabbitmq_password")
        needed.append("redis_url")
        return needed

    def describe(self, services: tuple[str, ...] | list[str] = ()) -> str:
        """One line for an operator: the mode, and where the named services' data lives."""
        places = ", ".join(f"{name}={_without_password(self.database_url_for(name))}" for name in services)
        redis = _without_password(self.redis_url) if self.mode == "mesh" and self.redis_url else "in-process"
        broker = _without_password(self.amqp_url()) if self.mode == "mesh" else "in-process"
        return (f"environment={self.environment} mode={self.mode} broker={broker} redis={redis}"
                + (f" databases: {places}" if places else ""))

    def _has(self, name: str) -> bool:
        value = getattr(self, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return bool(value)

    # Derived locations -------------------------------------------------------------
    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        if self.mode == "mesh":
            password = self.postgres_password.get_secret_value() if self.postgres_password else ""
            auth = quote(self.postgres_user) + (":" + quote(password) if password else "")
            return (f"postgresql+asyncpg://{auth}@{self.postgres_host}:{self.postgres_port}/"
                    f"{self.postgres_db_prefix}{service}")
        return f"sqlite+aiosqlite:///{self.var_dir / (service + '.db')}"

    def amqp_url(self) -> str:
        if self.rabbitmq_url:
            return self.rabbitmq_url
        password = self.rabbitmq_password.get_secret_value() if self.rabbitmq_password else "guest"
        vhost = quote(self.rabbitmq_vhost, safe="")
        return f"amqp://{quote(self.rabbitmq_user)}:{quote(password)}@{self.rabbitmq_host}:{self.rabbitmq_port}/{vhost}"

    def files_dir(self) -> Path:
        return self.storage_dir or self.var_dir / "files"

    def urls_of(self, service: str) -> list[str]:
        if service in self.service_urls:
            return self.service_urls[service]
        return [f"http://127.0.0.1:{SERVICE_PORTS[service]}"]

    def jwks_location(self) -> str:
        return self.jwks_url or self.urls_of("user")[0] + "/.well-known/jwks.json"


def _without_password(url: str) -> str:
    """`url` with its password masked, for printing."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
