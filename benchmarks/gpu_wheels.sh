#!/bin/sh
# `make gpu-wheels` (download, here) and `make gpu-check` (install, on the GPU machine, offline).
# The GPU image has torch, Lightning, tokenizers, pyarrow, numpy, pandas, requests, pyyaml ... but not
# datasets, wandb or jsonargparse: their wheels and the dependencies the image lacks travel in .gpu-wheels/.
set -e
DIR=${GPU_WHEELS:-.gpu-wheels}
SITE=${GPU_SITE:-/tmp/gpu-site}
PY=${PYTHON:-python3}
case "$1" in
download)
  mkdir -p "$DIR"
  # Python 3.12 manylinux x86_64 wheels of the three packages and their whole dependency closure ...
  $PY -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d "$DIR" datasets wandb "jsonargparse[signatures]"
  # ... minus what the image already holds (its package list: /work/.library/device/KINDS.md).
  for p in numpy pyarrow pandas requests urllib3 idna certifi charset_normalizer pyyaml PyYAML fsspec \
      huggingface_hub hf_xet tqdm filelock packaging aiohttp aiosignal aiohappyeyeballs attrs frozenlist \
      multidict propcache yarl xxhash python_dateutil six typing_extensions protobuf click psutil \
      anyio h11 httpcore httpx sniffio pytz tzdata; do
    rm -f "$DIR"/"$p"-*.whl
  done
  du -sh "$DIR"; ls "$DIR" ;;
install)
  # No index, no resolver: the image's packages stay as they are, the carried ones go beside them.
  $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$DIR"/*.whl
  echo "installed $(ls "$DIR" | wc -l) wheels into $SITE (export PYTHONPATH=$SITE)" ;;
*) echo "usage: $0 download|install"; exit 2 ;;
esac
