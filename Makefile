# The two commands of the README:
#   make repro   create the environment if missing, then run the whole pipeline (dvc repro)
#   make test    create the environment if missing, then run the test suite
# and helpers:
#   make dvc ARGS="exp show --only-changed"   any dvc command inside the environment
#   make seeds   the seed study: the whole pipeline with seeds [0, 1, 2] as a DVC experiment
#   make paper [VGG16_WEIGHTS=<path>]   the paper's settings (240 px, K 64, 3 seeds, VGG-16 when given) as a DVC experiment
#   make report-check   exit 1 (naming the files) when the report is older than what it summarises
#   make compare [EXP=<experiment or rev>] [BASE=main]   a variant against main: with EXP, every
#                changed param and compact metric (`dvc exp diff`, one line each); without, the
#                workspace and experiments of HEAD, changed columns only (`dvc exp show --only-changed`)
# The environment is .venv, rebuilt whenever pyproject.toml changes (and with faiss-gpu on a GPU machine).

PYTHON ?= python3
VENV := .venv
# On a machine with an NVIDIA GPU (nvidia-smi lists one) the environment gets faiss-gpu in place of
# faiss-cpu, the same version: with CUDA torch (pip's default wheel on Linux x86-64), training,
# extraction and search then all run on the GPU, with no pip command by hand. GPU=0 / GPU=1
# overrides the detection. (Both wheels provide the `faiss` module, so they cannot be installed
# side by side, and a pip extra cannot take out a base dependency: hence this step.)
GPU ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1 || echo 0)
FAISS_VERSION := $(shell sed -n 's/.*"faiss-cpu==\([^"]*\)".*/\1/p' pyproject.toml)
STAMP := $(VENV)/.installed-gpu$(GPU)
CHROMIUM_STAMP := $(VENV)/.chromium
# dvc.yaml's commands run `python -m pipeline.<stage>`: that python must be the venv's.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: repro test test-fast dvc seeds paper report-check compare

# pipeline.check first: a params typo or a missing input path is named by its params key before
# DVC hashes anything (a missing `${data.raw_root}` dependency is otherwise DVC's bare Errno 2)
repro: $(STAMP)
	$(VENV)/bin/python -m pipeline.check
	$(VENV)/bin/dvc repro

test: $(STAMP) $(CHROMIUM_STAMP)
	$(VENV)/bin/python -m pytest -q

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not slow"

dvc: $(STAMP)
	$(VENV)/bin/dvc $(ARGS)

seeds: $(STAMP)
	$(VENV)/bin/dvc exp run -S 'seeds=[0,1,2]'

# The paper's profile as one DVC experiment named `paper`: 240 px images, NetVLAD K 64, PCA on 5,000
# training images, no step cap (training runs until validation stops improving), 3 seeds; with
# VGG16_WEIGHTS=<path to torchvision's vgg16-397923af.pth> the paper's VGG-16 trained from conv5 at
# its learning rate 1e-6, else the default pretrained Lite0 at params.yaml's rate (1e-6 is VGG-16's).
PAPER := -S model.image_max_side=240 -S model.clusters=64 -S pca.fit_images=5000 -S 'seeds=[0,1,2]'
ifdef VGG16_WEIGHTS
PAPER += -S model.backbone=vgg16 -S model.init=imagenet -S model.weights=$(VGG16_WEIGHTS) -S model.train_from_block=5 \
         -S train.lr=1.0e-6
endif
paper: $(STAMP)
	$(VENV)/bin/python -m pipeline.check
	$(VENV)/bin/dvc exp run -n paper $(PAPER)

BASE ?= main
compare: $(STAMP)
ifdef EXP
	$(VENV)/bin/dvc exp diff $(BASE) $(EXP)
else
	$(VENV)/bin/dvc exp show --no-pager --only-changed --drop Created
endif

report-check: $(STAMP)
	$(VENV)/bin/python -m softloc.report --check

# The report's 1,400 px screenshot test needs a headless chromium: apt-get installs it when missing
# and make runs as root; otherwise `make test` stops here and says how to install it.
$(CHROMIUM_STAMP):
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -q && apt-get install -y -q chromium; } \
	  || { echo "make test: chromium is missing and cannot be installed here (not root or no apt-get): install it (sudo apt-get install chromium) for tests/test_report_screenshot.py" >&2; exit 1; }
	mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e .
ifeq ($(GPU),1)
	$(VENV)/bin/python -m pip uninstall --quiet -y faiss-cpu
	$(VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps faiss-gpu==$(FAISS_VERSION)
	$(VENV)/bin/python -m pip install --quiet faiss-gpu==$(FAISS_VERSION)
	$(VENV)/bin/python -c "import faiss, torch; print('GPU environment: torch', torch.__version__, 'CUDA', torch.cuda.is_available(), '| faiss', faiss.__version__, 'GPUs', faiss.get_num_gpus())"
endif
	rm -f $(VENV)/.installed-gpu*
	touch $(STAMP)
