# RepitBot developer commands. `make test` needs nothing but Python 3.11 and (for the
# servers it starts) root or sudo on Debian/Ubuntu the first time.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv run test test-unit lint lock bench mesh clean bot-locales

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@if [ ! -x $(PY) ]; then \
	    if command -v python3.11 >/dev/null 2>&1; then python3.11 -m venv $(VENV); \
	    elif python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then python3 -m venv $(VENV); \
	    else echo "Python 3.11 is needed (python3.11 or python3)" >&2; exit 1; fi; \
	fi
	$(VENV)/bin/pip install -q uv==0.13.9
	$(UV) pip install --python $(PY) -r requirements.lock
	$(UV) pip install --python $(PY) --no-deps -e . --config-settings editable_mode=compat
	@touch $(STAMP)

run: venv
	$(VENV)/bin/repitbot run

test: venv lint
	bash scripts/install-system-deps.sh
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

test-unit: venv
	$(PY) -m pytest -q -p no:cacheprovider tests/unit $(PYTEST_ARGS)

lock: venv
	$(UV) pip compile pyproject.toml --extra test -o requirements.lock --python-version 3.11

bench: venv
	$(PY) -m bench.bus && $(PY) -m bench.gateway && $(PY) -m bench.logins && $(PY) -m bench.links

# the bot's messages: extract new ones into the .po files (translate them there), compile the .mo
bot-locales: venv
	$(VENV)/bin/pybabel extract -F telegram_bot/babel.cfg -k _ -k __ --no-location --sort-output \
	    --project=RepitBot -o telegram_bot/locales/bot.pot telegram_bot
	$(PY) -m telegram_bot.catalogs update

mesh: venv
	$(VENV)/bin/repitbot mesh

clean:
	rm -rf var/ .pytest_cache/ .hypothesis/ build/ *.egg-info/
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
