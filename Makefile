# The two commands: `make run` (quick start) and `make test` (everything, real services).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench clean system-deps lock

# Debian/Ubuntu packages the tests and the product use; installed when missing.
# Fonts: PDF exports of Arabic, Georgian, Chinese and other scripts.
FONT_PACKAGES := fonts-dejavu-core fonts-noto-core fonts-wqy-microhei
TEST_PACKAGES := postgresql redis-server chromium ffmpeg espeak-ng $(FONT_PACKAGES)
RUN_PACKAGES := ffmpeg $(FONT_PACKAGES)

# constraints.txt pins what the suite last passed on: a new major of a dependency
# (RQ 3 changed a worker hook's signature) must arrive through `make lock`, not by surprise.
$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { scripts/apt-install.sh python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

run: $(STAMP)
	@scripts/apt-install.sh $(RUN_PACKAGES)
	$(BIN)/python scripts/quickstart.py

test: $(STAMP)
	@scripts/apt-install.sh $(TEST_PACKAGES)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	@scripts/apt-install.sh postgresql redis-server ffmpeg espeak-ng chromium
	$(BIN)/python bench/web.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/upload_memory.py
	$(BIN)/python bench/transcript.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/ai.py
	$(BIN)/python bench/private.py
	$(BIN)/python bench/billing.py
	$(BIN)/python bench/privacy.py
	$(BIN)/python bench/i18n.py

# Resolve the newest versions pyproject.toml allows in a scratch venv and pin them;
# then run `make test` before committing the new constraints.txt.
lock:
	rm -rf var/lock-venv && $(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/pip install -q --upgrade pip
	var/lock-venv/bin/pip install -q -e ".[dev]"
	{ echo "# The versions CI last tested (pip freeze of a fresh \`make test\` venv). \`make lock\` refreshes it."; \
	  var/lock-venv/bin/pip freeze --exclude-editable; } > constraints.txt
	rm -rf var/lock-venv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
