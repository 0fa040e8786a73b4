# The two commands of the README: `make run` (the whole system) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install install-run lint bench bench-slo bench-tam bench-write bench-console bench-trust bench-inbound clean

# Two stamps, so each set installs once: what running needs (`make run`), and the
# dev extras on top (`make test`, `make lint`, `make bench*`, and `make install`,
# which CI calls). Either is redone when pyproject.toml changes.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install-run: $(RUN_STAMP)

## Everything, dev extras included: what CI and `make test` use.
install: $(DEV_STAMP)

## Start web (gunicorn), Celery worker and beat on the embedded defaults.
# Links in e-mails (seed_demo's and the workers') point at this server.
run: export HELPDESK_BASE_URL ?= http://127.0.0.1:$(PORT)
run: install-run
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo
	@echo "Helpdesk: http://127.0.0.1:$(PORT)/  (agent console: http://127.0.0.1:$(PORT)/admin/)"
	@mkdir -p var/mail-in/new var/mail-in/cur var/mail-in/tmp
	@echo "Inbound e-mail: drop an .eml file into var/mail-in/new/ (read every 15 s)."
	@echo "Stop with Ctrl-C."
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT) --procfile Procfile

## Run the test suite (PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/business_time.py

bench-slo: install
	$(BIN)/python bench/slo_sweep.py

bench-tam: install
	$(BIN)/python bench/tam_report.py

bench-write: install
	$(BIN)/python bench/write_path.py

bench-console: install
	$(BIN)/python bench/console.py

## The new-ticket form's suggestions at 10,000 KB articles on PostgreSQL (DATABASE_URL).
bench-trust: install
	$(BIN)/python bench/trust_suggestions.py
	$(BIN)/python bench/trust_fan_out.py

## 1,000 inbound e-mails from a private Dovecot (IMAPS) against the maildir (needs root).
bench-inbound: install
	$(BIN)/python bench/inbound_imap.py

clean:
	rm -rf var/broker var/results var/cache var/static
