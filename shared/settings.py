"""Settings read from the environment (twelve-factor). Defaults give the embedded mode."""
from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import quote

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

    @model_validator(mode="after")
    def _refuse_missing_secrets_in_production(self) -> "Settings":
        if self.environment != "production":
            return self
        missing = [name for name in self.required_production_secrets() if not self._has(name)]
        if missing:
            raise MissingSecret(
                "ENVIRONMENT=production needs these variables set: " + ", ".join(n.upper() for n in missing)
            )
        return self

    def required_production_secrets(self) -> list[str]:
        needed: list[str] = []
        if self.mode == "mesh":
            if not self.database_url:
                needed.append("postgres_password")
            if not self.rabbitmq_url:
                needed.append("rabbitmq_password")
        return needed

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
