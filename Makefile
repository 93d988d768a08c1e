# `make test` and `make demo` set everything up from this repository's own files.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo venv clean bench

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	CI=$${CI:-false} $(VPY) -m pytest -q -n 2 -p no:cacheprovider tests

demo: $(STAMP)
	$(VPY) examples/demo.py

clean:
	rm -rf $(VENV) build *.egg-info
