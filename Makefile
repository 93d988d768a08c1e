# `make test` and `make demo` set everything up from this repository's own files.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo venv clean bench lines

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# two test workers on two cores: one BLAS thread each, or they fight over the cores
test: $(STAMP)
	CI=$${CI:-false} OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
		$(VPY) -m pytest -q -n 2 -p no:cacheprovider tests

demo: $(STAMP)
	$(VPY) examples/demo.py

clean:
	rm -rf $(VENV) build *.egg-info

bench: $(STAMP)
	$(VPY) -m pip install -q -e '.[bench]'
	$(VPY) bench/memory.py
	$(VPY) bench/speed.py

lines:
	@$(PY) tools/linecount.py
