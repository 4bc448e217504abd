# Two commands do all set-up: `make run` and `make test`. Everything lands in .venv and var/.
PYTHON ?= python3
# Where `make run` serves: `make run ADDR=0.0.0.0:8080`. setup_dev prints the same address.
ADDR ?= 127.0.0.1:8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml sdk/pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install lint bench clean

$(STAMP): pyproject.toml sdk/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e "./sdk[all]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --no-input -v0
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py setup_dev --addrport $(ADDR)
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py run_dev $(ADDR)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var
