# The two commands: `make run` (quick start) and `make test` (everything, real services).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench clean system-deps

# Debian/Ubuntu packages the tests and the product use; installed when missing.
# Fonts: PDF exports of Arabic, Georgian, Chinese and other scripts.
FONT_PACKAGES := fonts-dejavu-core fonts-noto-core fonts-wqy-microhei
TEST_PACKAGES := postgresql redis-server chromium ffmpeg espeak-ng $(FONT_PACKAGES)
RUN_PACKAGES := ffmpeg $(FONT_PACKAGES)

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { scripts/apt-install.sh python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
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

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
