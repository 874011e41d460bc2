# The two commands a newcomer needs, each installing what it uses into .venv:
#   make demo   render a generated clip through the default shipped preset (no sound card needed)
#   make test   install the test and training extras (torch CPU) and the system packages, run pytest
# and, for the edit loop and CI:
#   make test-quick   the same without the live (JACK), soak, train, slow and browser tiers (~45 s)
#   make wheel-check  build the wheel, install it into a clean venv outside the repository and
#                     render every shipped preset with it (.ci/wheel-check; no torch)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
APT_PACKAGES := hydrogen-drumkits libportaudio2 jackd2 fluidsynth fluid-soundfont-gm alsa-utils espeak-ng chromium

.PHONY: demo test test-quick wheel-check sysdeps

$(VENV)/.runtime: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) torch==2.13.0
	$(PIP) -e ".[train,test]"
	touch $@

demo: $(VENV)/.runtime
	$(VENV)/bin/cak demo

sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "some tests need:$$missing; install with: sudo apt-get install --no-install-recommends$$missing"; \
		fi; \
	fi

test: $(VENV)/.dev sysdeps
	$(PY) -m pytest -m "not vst3"
	$(PY) -m pytest -m vst3

test-quick: $(VENV)/.dev sysdeps
	$(PY) -m pytest -m "not live and not soak and not train and not slow and not browser and not vst3"

wheel-check:
	.ci/wheel-check
