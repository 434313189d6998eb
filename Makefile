# Entry points. Everything runs through `python -m pipeline`; these targets only save typing.
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
TORCH ?= torch==2.13.0
# The default recipe trains on a corpus shipped in the package: no network, about 3 minutes on 2 CPU cores.
DEFAULT_CONFIG := conf/lm/char_shakespeare.yaml
CONFIG ?= $(DEFAULT_CONFIG)
ARGS ?=
CKPT ?=
SPLIT ?= test
PROMPT ?= The
DATA ?= ../shared/data

# Installed once, again when pyproject.toml changes; every target that runs Python depends on it. A
# PYTHON of your own (an environment that already has the project) is used as it is, never installed into.
STAMP := $(VENV)/.installed
SETUP := $(if $(filter $(VENV)/bin/python,$(PYTHON)),$(STAMP))
# The default recipe ends with its score next to published ones and a sample from the run it just trained
# (runs/<task>-<recipe> unless ARGS names another run folder).
DEFAULT_RUN := runs/lm-char_shakespeare
SAMPLE := $(and $(filter $(DEFAULT_CONFIG),$(CONFIG)),$(if $(findstring --name,$(ARGS))$(findstring --runs,$(ARGS)),,yes))
REFERENCE := Published: nanoGPT's CPU recipe about 1.88 nats/char (2.71 bits/char) validation in 3 min; \
this project's README 1.557 nats/char validation in 3 min on 2 cores (90/10 split, validation = last 10%).

.PHONY: help install train evaluate generate predict prepare demo test test-all lint format bench bench-quality bench-repeats bench-peers slurm clean gpu-check gpu-wheels

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  Variables: CONFIG=conf/lm/brown.yaml ARGS='--trainer.max_epochs 1' CKPT=runs/NAME/checkpoints/best.ckpt"

install: ## (Re)install .venv now; other targets do it on first use (TORCH='torch' for the CUDA wheel)
	rm -f $(STAMP)
	$(MAKE) --no-print-directory $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q "$(TORCH)"
	$(VENV)/bin/pip install -q -e ".[dev,export]"
	touch $@

train: $(SETUP) ## Train a recipe (default: char LM on the shipped Tiny Shakespeare): make train CONFIG=conf/lm/brown.yaml
	$(PYTHON) -m pipeline train --config $(CONFIG) $(ARGS)
ifeq ($(SAMPLE),yes)
	@echo "$(REFERENCE)"
	@echo "Sample from $(DEFAULT_RUN)/checkpoints/best.ckpt:"
	@$(PYTHON) -m pipeline generate $(DEFAULT_RUN)/checkpoints/best.ckpt --prompt "ROMEO:" --max-tokens 300 \
		--temperature 0.8 --top-k 40
endif

evaluate: $(SETUP) ## Score a checkpoint: make evaluate CKPT=runs/lm-brown/checkpoints/best.ckpt SPLIT=test
	$(PYTHON) -m pipeline evaluate $(CKPT) --split $(SPLIT) $(ARGS)

generate: $(SETUP) ## Sample text: make generate CKPT=... PROMPT="The"
	$(PYTHON) -m pipeline generate $(CKPT) --prompt "$(PROMPT)" --max-tokens 50 --temperature 0.8 --top-k 40 $(ARGS)

predict: $(SETUP) ## Tag a file: make predict CKPT=... ARGS='--input in.txt --output out.txt'
	$(PYTHON) -m pipeline predict $(CKPT) $(ARGS)

prepare: $(SETUP) ## Download and tokenize a recipe's data without training (login nodes)
	$(PYTHON) -m pipeline prepare --config $(CONFIG) $(ARGS)

slurm: $(SETUP) ## Write an sbatch script: make slurm CONFIG=conf/lm/brown.yaml ARGS='--nodes 2 --gpus-per-node 4 --time 24:00:00 -- --data.path DIR'
	$(PYTHON) -m pipeline slurm --config $(CONFIG) $(ARGS)

demo: $(SETUP) ## Offline demo: synthetic corpora with known optimal scores, trained end to end
	WANDB_MODE=$${WANDB_MODE:-offline} $(PYTHON) -m pipeline demo $(ARGS)

test: $(SETUP) ## The default test suite (CPU, offline)
	$(PYTHON) -m pytest -q

test-all: $(SETUP) ## Also the slow tests on the real corpora in $(DATA)
	$(PYTHON) -m pytest -q -m "slow or not slow"

lint: $(SETUP) ## ruff lint and format check
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

format: $(SETUP) ## Apply ruff formatting and safe fixes
	$(PYTHON) -m ruff check --fix .
	$(PYTHON) -m ruff format .

bench: $(SETUP) ## Fast benchmarks (7-35 min on 2 cores, by CPU): speed and memory vs baselines -> BENCHMARKS.md, benchmarks/results.json
	$(PYTHON) -m benchmarks fast --data $(DATA) $(ARGS)

bench-quality: $(SETUP) ## Long, time-budgeted quality runs (Brown ppl, CoNLL F1, Shakespeare nats/char, 1 GB prepare)
	$(PYTHON) -m benchmarks quality --data $(DATA) $(ARGS)

bench-repeats: $(SETUP) ## How many repeats the LM overhead row needs before met/missed is out of the noise (~10 min; ARGS="--row tagger" for the tagger row)
	$(PYTHON) -m benchmarks repeats --data $(DATA) $(ARGS)

PEERS ?= .peers
bench-peers: $(SETUP) ## flair 0.15 next to ours on CoNLL-2003, both at once, 1 thread each (~25 min; flair in its own .peers/ venv)
	test -x $(PEERS)/flair/bin/python || { python3 -m venv $(PEERS)/flair && $(PEERS)/flair/bin/pip install -q flair==0.15.1 $(TORCH); }
	$(PYTHON) -m benchmarks peers --data $(DATA) --flair-python $(PEERS)/flair/bin/python $(ARGS)

GPU_PYTHON ?= $(shell test -x $(PYTHON) && echo $(PYTHON) || echo python3)
GPU_SITE ?= /tmp/gpu-site

gpu-wheels: $(SETUP) ## Download the wheels a bare GPU machine lacks (datasets, wandb, jsonargparse + deps) into .gpu-wheels/
	PYTHON=$(PYTHON) sh benchmarks/gpu_wheels.sh download

gpu-check: ## One-command GPU check (<= 6 min on one GPU; offline; runs on the GPU machine's own Python, never installs from the network): make gpu-check ARGS='--data ../shared/data'
	if [ -d .gpu-wheels ] && ! $(GPU_PYTHON) -c "import datasets, wandb, jsonargparse" 2>/dev/null; then \
		PYTHON=$(GPU_PYTHON) GPU_SITE=$(GPU_SITE) sh benchmarks/gpu_wheels.sh install; fi
	PYTHONPATH=$(GPU_SITE)$${PYTHONPATH:+:$$PYTHONPATH} WANDB_MODE=disabled $(GPU_PYTHON) -m benchmarks gpu $(ARGS)

clean: ## Remove caches, demo output and runs
	rm -rf .cache demo_out runs
