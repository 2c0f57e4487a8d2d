# Carnet — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
export CARNET_VAR_DIR ?= $(CURDIR)/var

.PHONY: run test test-postgres lint format bench chromium install clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 ou plus récent est nécessaire" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@mkdir -p $(CARNET_VAR_DIR)
	CARNET_DEMO=1 $(BIN)/carnet migrate --verbosity 0
	CARNET_DEMO=1 $(BIN)/carnet createcachetable
	CARNET_DEMO=1 $(BIN)/carnet seed_demo
	@echo ""
	@echo "Carnet démarre sur http://127.0.0.1:$(PORT)/"
	@echo "E-mails et SMS de démonstration : http://127.0.0.1:$(PORT)/outbox/ (ou : $(BIN)/carnet outbox)"
	@echo "Activer la personne en attente : http://127.0.0.1:$(PORT)/activer/"
	@echo "Portail des professionnels : http://127.0.0.1:$(PORT)/pro/connexion/ (code TOTP de demo.professionnel : CARNET_DEMO=1 $(BIN)/carnet demo_totp)"
	@echo ""
	@CARNET_DEMO=1 $(BIN)/carnet worker & WORKER=$$!; \
	trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	CARNET_DEMO=1 PORT=$(PORT) $(BIN)/carnet serve

chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "Installation du paquet Debian chromium (tests navigateur)…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "Les tests navigateur ont besoin de Chromium : installez le paquet Debian « chromium » (sudo apt-get install chromium), puis relancez make test." >&2; \
		exit 1; \
	fi

test: $(STAMP) chromium
	$(BIN)/pytest

test-postgres: $(STAMP) chromium
	DATABASE_URL=$${DATABASE_URL:-postgres:///carnet_test} $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/import_registry.py
	$(BIN)/python bench/documents.py
	$(BIN)/python bench/consent.py
	$(BIN)/python bench/prevention.py

clean:
	rm -rf $(VENV) var
