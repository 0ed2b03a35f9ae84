# The README's two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export VOLUNTEER_HUB_CHROMIUM ?= /usr/bin/chromium

.PHONY: run test test-postgres install browser translations bench clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	$(BIN)/pybabel compile -d volunteer_hub/translations

## Serve the demo on http://127.0.0.1:5000 (SQLite in instance/), with the notification
## worker and the scheduler (escalations, reminders, nightly jobs) beside the web server.
run: install
	$(BIN)/volunteer-hub db upgrade
	$(BIN)/volunteer-hub demo --if-empty
	$(BIN)/volunteer-hub ledger checkpoint  # the first one audits everything: not on a volunteer's wait
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/volunteer-hub worker & \
	$(BIN)/volunteer-hub scheduler & \
	$(BIN)/granian --interface wsgi --factory --host 127.0.0.1 --port 5000 --workers 2 \
	  --blocking-threads 4 --no-ws --respawn-failed-workers --access-log volunteer_hub:create_app

## Debian's Chromium for the browser tests (Playwright's own download cannot work here).
browser:
	@command -v $(VOLUNTEER_HUB_CHROMIUM) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk; \
	  elif command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk; \
	  else echo "Chromium missing and no root: browser tests will be skipped"; fi; }

## Install everything and run the whole suite on SQLite.
test: install browser
	$(BIN)/pytest -q

## The same suite on PostgreSQL (VOLUNTEER_HUB_TEST_DATABASE_URL must point at a fresh database).
test-postgres: install browser
	$(BIN)/pytest -q

## Regenerate the README's gallery (docs/screenshots/): the phone journeys in Chromium,
## a screenshot per step (each page also passes the axe-core accessibility check).
screenshots: install browser
	VOLUNTEER_HUB_SCREENSHOTS=docs/screenshots VOLUNTEER_HUB_REQUIRE_BROWSER=1 $(BIN)/pytest -q \
	  tests/browser/test_daily_journeys.py tests/browser/test_checkin_journey.py \
	  tests/browser/test_callout_journey.py

bench: install
	$(BIN)/python -m bench.http.run

clean:
	rm -rf $(VENV) instance .pytest_cache

## Re-extract strings into the catalogues after changing code or templates.
i18n-update: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --sort-by-file -o volunteer_hub/translations/messages.pot .
	$(BIN)/pybabel update -i volunteer_hub/translations/messages.pot -d volunteer_hub/translations --no-fuzzy-matching
