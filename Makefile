# Two entry points (see README): both set up .venv first if needed (idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CONFIG ?= configs/pretrain/mask3d_vit-tiny_synthetic-demo.py
DEMO_WORK_DIR ?= work_dirs/demo

.PHONY: install demo test

install:
	bash tools/install.sh

demo: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)

test: install
	$(PY) -m pytest tests -q -rs -p no:cacheprovider
