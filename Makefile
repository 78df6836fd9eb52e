# Two commands do all set-up on a fresh clone: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,web,eval]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps hintauc==0.3.3
	touch $(STAMP)

install: $(STAMP)

SAMPLE := src/irodori/assets/samples/monkey

demo: $(STAMP)
	$(BIN)/irodori colorize $(SAMPLE).png --hints $(SAMPLE).hints.json -o out/demo.png

test: $(STAMP)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
