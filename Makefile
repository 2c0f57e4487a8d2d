# Carnet — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
SMTP_PORT ?= 2525
STAMP := $(VENV)/.installed
export CARNET_VAR_DIR ?= $(CURDIR)/var
SMTPD_DIR = $(CARNET_VAR_DIR)/smtpd

.PHONY: run test test-postgres test-scale lint format bench chromium oidc-provider install clean

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
	CARNET_DEMO=1 CARNET_SMTPD_PORT=$(SMTP_PORT) $(BIN)/carnet seed_demo
	CARNET_DEMO=1 $(BIN)/carnet demo_tls $(SMTPD_DIR)
	@echo ""
	@echo "Carnet démarre sur http://localhost:$(PORT)/ (les clés d'accès demandent ce nom, pas une adresse IP)"
	@echo "E-mails et SMS de démonstration : http://127.0.0.1:$(PORT)/outbox/ (ou : $(BIN)/carnet outbox)"
	@echo "Activer la personne en attente : http://127.0.0.1:$(PORT)/activer/"
	@echo "Portail des professionnels : http://127.0.0.1:$(PORT)/pro/connexion/ (code TOTP de demo.professionnel : CARNET_DEMO=1 $(BIN)/carnet demo_totp)"
	@echo "Passerelle SMTP de la messagerie : 127.0.0.1:$(SMTP_PORT) (STARTTLS, certificat auto-signé $(SMTPD_DIR)/cert.pem ; commande swaks ci-dessus)"
	@echo ""
	@CARNET_DEMO=1 $(BIN)/carnet worker & WORKER=$$!; \
	CARNET_DEMO=1 CARNET_SMTPD_HOST=127.0.0.1 CARNET_SMTPD_PORT=$(SMTP_PORT) \
		CARNET_SMTPD_TLS_CERT=$(SMTPD_DIR)/cert.pem CARNET_SMTPD_TLS_KEY=$(SMTPD_DIR)/key.pem \
		$(BIN)/carnet smtpd & SMTPD=$$!; \
	trap 'kill $$WORKER $$SMTPD 2>/dev/null' EXIT INT TERM; \
	CARNET_DEMO=1 PORT=$(PORT) CARNET_WEBAUTHN_ORIGINS=$${CARNET_WEBAUTHN_ORIGINS:-http://localhost:$(PORT)} \
		$(BIN)/carnet serve

chromium:
	@if command -v chromium >/dev/null 2>&1 && command -v swaks >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "Installation des paquets Debian chromium et swaks (tests navigateur et SMTP)…"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium swaks >/dev/null; \
	else \
		echo "Les tests ont besoin des paquets Debian « chromium » (navigateur) et « swaks » (client SMTP) : sudo apt-get install chromium swaks, puis relancez make test." >&2; \
		exit 1; \
	fi

# The real OpenID provider of tests/federation (panva's oidc-provider), installed from its lockfile.
OIDC_PROVIDER := tests/federation/provider
$(OIDC_PROVIDER)/node_modules/.installed: $(OIDC_PROVIDER)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Les tests d'identification (FranceConnect+, Pro Santé Connect) ont besoin de Node.js et npm : sudo apt-get install nodejs npm, puis relancez make test." >&2; exit 1; }
	npm ci --prefix $(OIDC_PROVIDER) --no-audit --no-fund --silent
	@touch $@

oidc-provider: $(OIDC_PROVIDER)/node_modules/.installed

test: $(STAMP) chromium oidc-provider
	$(BIN)/pytest

test-postgres: $(STAMP) chromium oidc-provider
	DATABASE_URL=$${DATABASE_URL:-postgres:///carnet_test} $(BIN)/pytest

# The production-like drills (tests/scale): two web nodes, a worker, Redis, S3 (moto), and a
# PostgreSQL database of their own; they need PostgreSQL's createdb and redis-server.
test-scale: $(STAMP)
	$(BIN)/pytest -m scale tests/scale

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
	$(BIN)/python bench/messaging.py

clean:
	rm -rf $(VENV) var
