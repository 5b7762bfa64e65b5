#!/usr/bin/env bash
# Installs the servers the test suite and the mesh mode need (Debian/Ubuntu):
# RabbitMQ, PostgreSQL, Redis, nginx, Prometheus, and Node.js with npm (the generated TypeScript
# client of the contract tests). A fast no-op when they are present.
set -euo pipefail

have_all() {
    [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || return 1
    compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || return 1
    command -v redis-server >/dev/null 2>&1 || return 1
    command -v promtool >/dev/null 2>&1 || return 1
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || return 1
    command -v node >/dev/null 2>&1 || return 1
    command -v npm >/dev/null 2>&1 || return 1
}

if have_all; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-system-deps: need root or sudo to install rabbitmq-server, postgresql, redis-server, nodejs, npm" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: no apt-get; install rabbitmq-server, postgresql, redis-server," \
         "nginx, prometheus, nodejs and npm with your package manager" >&2
    exit 1
fi

# Without systemd the packages' post-install scripts would try to start system services:
# policy-rc.d answering 101 ("action forbidden") stops them. We start our own servers.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
fi

echo "install-system-deps: installing rabbitmq-server postgresql redis-server nginx prometheus nodejs npm" >&2
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y rabbitmq-server postgresql redis-server nginx prometheus nodejs npm
