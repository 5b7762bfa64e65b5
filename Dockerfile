# One image for the API gateway, the nine services and the Telegram bot. The process is
# chosen by the command: `repitbot serve <gateway|user|lesson|...> --host 0.0.0.0`, or
# `python -m telegram_bot` (see docker-compose.microservices.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REPITBOT_MODE=mesh \
    VAR_DIR=/var/lib/repitbot \
    STORAGE_DIR=/var/lib/repitbot/files

WORKDIR /app

# Dependencies first, pinned by the lock: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# Then the project itself (what .dockerignore lets through), without resolving
# dependencies again. Processes run from the installed package, not from /app.
COPY . ./
RUN pip install --no-deps . \
    && rm -rf build *.egg-info

RUN useradd --system --uid 10001 --home-dir /var/lib/repitbot --create-home repitbot \
    && mkdir -p /var/lib/repitbot/files \
    && chown -R repitbot /var/lib/repitbot
USER repitbot
WORKDIR /var/lib/repitbot

EXPOSE 8000-8009
CMD ["repitbot", "serve", "gateway", "--host", "0.0.0.0"]
