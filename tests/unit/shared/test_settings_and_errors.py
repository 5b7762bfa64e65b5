import pytest

from shared.settings import MissingSecret, Settings


def test_embedded_defaults_need_no_servers(tmp_path):
    settings = Settings(var_dir=tmp_path)
    assert settings.mode == "embedded"
    assert settings.database_url_for("lesson") == f"sqlite+aiosqlite:///{tmp_path}/lesson.db"


def test_mesh_mode_gives_each_service_its_own_postgres_database():
    settings = Settings(mode="mesh", postgres_user="app", postgres_password="s3cret", postgres_port=5433)
    assert settings.database_url_for("lesson") == "postgresql+asyncpg://app:s3cret@127.0.0.1:5433/repitbot_lesson"


def test_production_refuses_to_start_without_secrets():
    with pytest.raises(MissingSecret) as info:
        Settings(environment="production", mode="mesh")
    message = str(info.value)
    for name in ("POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "REDIS_URL", "METRICS_TOKEN"):
        assert name in message


def test_production_refuses_the_embedded_mode_and_a_missing_redis():
    # a production process without REDIS_URL would count rate limits and revocations alone
    with pytest.raises(MissingSecret, match="REDIS_URL"):
        Settings(environment="production", mode="mesh", postgres_password="pw", rabbitmq_password="pw",
                 metrics_token="t")
    # `repitbot migrate` without the mesh settings would migrate SQLite files under var/
    with pytest.raises(MissingSecret, match="REPITBOT_MODE=mesh"):
        Settings(environment="production", postgres_password="pw", rabbitmq_password="pw",
                 redis_url="redis://r:6379/0", metrics_token="t")


def test_only_the_user_service_needs_the_signing_key_in_production():
    from services.user.settings import UserSettings
    ready = {"postgres_password": "pw", "rabbitmq_password": "pw", "redis_url": "redis://r:6379/0",
             "metrics_token": "t"}
    common = Settings(environment="production", mode="mesh", **ready)
    assert common.environment == "production"
    with pytest.raises(MissingSecret, match="JWT_PRIVATE_KEY"):
        UserSettings(environment="production", mode="mesh", **ready)


def test_production_payments_need_the_demo_secret_every_instance_shares():
    from services.payment.settings import PaymentSettings
    ready = {"postgres_password": "pw", "rabbitmq_password": "pw", "redis_url": "redis://r:6379/0",
             "metrics_token": "t"}
    with pytest.raises(MissingSecret, match="PAYMENT_DEMO_SECRET"):
        PaymentSettings(environment="production", mode="mesh", **ready)
    assert PaymentSettings(environment="production", mode="mesh", payment_demo_secret="s", **ready).mode == "mesh"


def test_describe_names_the_mode_and_the_databases_without_passwords(tmp_path):
    mesh = Settings(mode="mesh", postgres_user="app", postgres_password="s3cret", redis_url="redis://:pw@r:6379/0")
    line = mesh.describe(["user", "lesson"])
    assert "mode=mesh" in line and "s3cret" not in line and ":pw@" not in line
    assert "user=postgresql+asyncpg://app:***@127.0.0.1:5432/repitbot_user" in line
    assert "lesson=postgresql+asyncpg://app:***@127.0.0.1:5432/repitbot_lesson" in line
    embedded = Settings(var_dir=tmp_path).describe(["user"])
    assert "mode=embedded" in embedded and f"user=sqlite+aiosqlite:///{tmp_path}/user.db" in embedded


def test_env_example_names_every_setting_of_every_process():
    import importlib
    from pathlib import Path

    from shared.settings import SERVICE_NAMES

    root = Path(__file__).resolve().parents[3]
    named = {line.lstrip("# ").split("=", 1)[0] for line in (root / ".env.example").read_text().splitlines()
             if "=" in line}
    classes = [Settings, importlib.import_module("api_gateway.settings").GatewaySettings,
               importlib.import_module("telegram_bot.settings").BotSettings]
    for service in SERVICE_NAMES:
        module = importlib.import_module(f"services.{service}.settings")
        classes += [cls for cls in vars(module).values()
                    if isinstance(cls, type) and issubclass(cls, Settings) and cls is not Settings]
    missing = {f"{cls.__name__}.{name}" for cls in classes for name, field in cls.model_fields.items()
               if str(field.validation_alias or name).upper() not in named}
    assert missing == set()
