# evbilling: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
OCPP_PORT ?= 9000

.PHONY: run test lint migrate demo check-migrations clean install system-deps

$(VENV)/.installed: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed system-deps

# pdftotext (poppler-utils) reads invoice PDFs back in the tests.
system-deps:
	@command -v pdftotext >/dev/null 2>&1 || { \
		echo "installing poppler-utils (pdftotext)"; \
		(apt-get update -qq && apt-get install -y -qq poppler-utils) >/dev/null 2>&1 || \
		echo "WARNING: could not install poppler-utils; PDF tests will fail"; }

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

run: migrate
	@$(PY) manage.py shell -c "from sessions_app.models import Operator; import sys; sys.exit(0 if Operator.objects.exists() else 1)" \
		|| $(PY) manage.py load_demo
	@echo ""
	@echo "  evbilling is starting on http://$(HOST):$(PORT)/"
	@echo "  Admin:  http://$(HOST):$(PORT)/admin/"
	@echo "  Logins: admin/admin (superuser)  operator/operator (operator staff)"
	@echo "          support/support (support staff)  driver/driver (driver)"
	@echo "  OCPP gateway: ws://$(HOST):$(OCPP_PORT)/<station identity>  (1.6J and 2.0.1)"
	@echo "  Try chargers: $(PY) manage.py simulate_chargers --count 4 --sessions 3"
	@echo ""
	@trap 'kill $$OCPP_PID 2>/dev/null' EXIT INT TERM; \
		$(PY) manage.py run_ocpp --host $(HOST) --port $(OCPP_PORT) & OCPP_PID=$$!; \
		$(PY) manage.py runserver $(HOST):$(PORT)

check-migrations: install
	$(PY) manage.py makemigrations --check --dry-run

test: install check-migrations
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
