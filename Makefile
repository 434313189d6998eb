# Entry points. Everything runs through `python -m pipeline`; these targets only save typing.
PYTHON ?= .venv/bin/python
VENV ?= .venv
TORCH ?= torch==2.13.0
CONFIG ?= conf/lm/wikitext2.yaml
ARGS ?=
CKPT ?=
SPLIT ?= test
PROMPT ?= The
DATA ?= ../shared/data

.PHONY: help install train evaluate generate predict prepare demo test test-all lint format bench bench-quality slurm clean gpu-check gpu-wheels

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  Variables: CONFIG=conf/lm/brown.yaml ARGS='--trainer.max_epochs 1' CKPT=runs/NAME/checkpoints/best.ckpt"

install: ## Create .venv and install the project (CPU torch by default; TORCH='torch' for the CUDA wheel)
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q "$(TORCH)"
	$(VENV)/bin/pip install -q -e ".[dev]"

train: ## Train a recipe: make train CONFIG=conf/lm/brown.yaml ARGS='--data.path ../shared/data/brown'
	$(PYTHON) -m pipeline train --config $(CONFIG) $(ARGS)

evaluate: ## Score a checkpoint: make evaluate CKPT=runs/lm-brown/checkpoints/best.ckpt SPLIT=test
	$(PYTHON) -m pipeline evaluate $(CKPT) --split $(SPLIT) $(ARGS)

generate: ## Sample text: make generate CKPT=... PROMPT="The"
	$(PYTHON) -m pipeline generate $(CKPT) --prompt "$(PROMPT)" --max-tokens 50 --temperature 0.8 --top-k 40 $(ARGS)

predict: ## Tag a file: make predict CKPT=... ARGS='--input in.txt --output out.txt'
	$(PYTHON) -m pipeline predict $(CKPT) $(ARGS)

prepare: ## Download and tokenize a recipe's data without training (login nodes)
	$(PYTHON) -m pipeline prepare --config $(CONFIG) $(ARGS)

slurm: ## Write an sbatch script: make slurm CONFIG=conf/lm/brown.yaml ARGS='--nodes 2 --gpus-per-node 4 --time 24:00:00 -- --data.path DIR'
	$(PYTHON) -m pipeline slurm --config $(CONFIG) $(ARGS)

demo: ## Offline demo: synthetic corpora with known optimal scores, trained end to end
	WANDB_MODE=$${WANDB_MODE:-offline} $(PYTHON) -m pipeline demo $(ARGS)

test: ## The default test suite (CPU, offline)
	$(PYTHON) -m pytest -q

test-all: ## Also the slow tests on the real corpora in $(DATA)
	$(PYTHON) -m pytest -q -m "slow or not slow"

lint: ## ruff lint and format check
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format: ## Apply ruff formatting and safe fixes
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

bench: ## Fast benchmarks (< 15 min on 2 cores): speed and memory vs baselines -> BENCHMARKS.md, benchmarks/results.json
	$(PYTHON) -m benchmarks fast --data $(DATA) $(ARGS)

bench-quality: ## Long, time-budgeted quality runs (Brown ppl, CoNLL F1, Shakespeare nats/char, 1 GB prepare)
	$(PYTHON) -m benchmarks quality --data $(DATA) $(ARGS)

GPU_PYTHON ?= $(shell test -x $(PYTHON) && echo $(PYTHON) || echo python3)
GPU_SITE ?= /tmp/gpu-site

gpu-wheels: ## Download the wheels a bare GPU machine lacks (datasets, wandb, jsonargparse + deps) into .gpu-wheels/
	PYTHON=$(PYTHON) sh benchmarks/gpu_wheels.sh download

gpu-check: ## One-command GPU check (<= 6 min on one GPU; offline): make gpu-check ARGS='--data ../shared/data'
	if [ -d .gpu-wheels ] && ! $(GPU_PYTHON) -c "import datasets, wandb, jsonargparse" 2>/dev/null; then \
		PYTHON=$(GPU_PYTHON) GPU_SITE=$(GPU_SITE) sh benchmarks/gpu_wheels.sh install; fi
	PYTHONPATH=$(GPU_SITE)$${PYTHONPATH:+:$$PYTHONPATH} WANDB_MODE=disabled $(GPU_PYTHON) -m benchmarks gpu $(ARGS)

clean: ## Remove caches, demo output and runs
	rm -rf .cache demo_out runs
