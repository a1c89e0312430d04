#!/usr/bin/env bash
# The CUDA path, in one go on a lent GPU machine (< 8 minutes): the CUDA tests, one CNN stage through the engine
# against a bare loop, what recording the inside of the network costs it, the input pipeline's throughput on
# cuda, a detached run on cuda:0 with the GPU list, and a short sweep with one worker per GPU. Run from the
# repository root; it sets up .venv if there is none.
# Every step prints its own figures; the last lines say which steps failed.
set -u -o pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv && .venv/bin/pip install -q -e '.[test,gpu]' || exit 1
fi
PY=.venv/bin/python
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
RUNS=$(mktemp -d)
failed=()
step() {  # step NAME TIMEOUT_S COMMAND...: runs it, output to $OUT/NAME.log and the terminal
  local name=$1 limit=$2; shift 2
  echo "=== $name"
  if ! timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"; then failed+=("$name"); fi
}
step gpus 60 "$PY" -m engine.devices
step nvidia-smi 30 nvidia-smi
step cuda-tests 150 "$PY" -m pytest -q -p no:randomly tests/engine/test_cuda.py tests/engine/test_gpus.py
step stage-time 120 "$PY" bench/cnn_stage_time.py --epochs 3 --n-train 10000 --n-test 2000 --device cuda
step recording 75 "$PY" bench/recording_cost.py --stage cifar-batchnorm --device cuda --repeats 2 --size-epochs 3
step throughput 90 "$PY" bench/cnn_throughput.py --device cuda --rounds 3
step detached 120 sh -c "id=\$($PY -m engine run cifar-batchnorm dataset=digits epochs=3 device=cuda:0 --detach \
  --json --runs-dir $RUNS | $PY -c 'import json,sys; print(json.loads(sys.stdin.read())[\"run_id\"])') && \
  $PY -m engine runs attach \$id --runs-dir $RUNS && $PY -m engine runs show \$id --runs-dir $RUNS"
step sweep 120 "$PY" -m engine sweep cifar-base dataset=digits epochs=2 lr=0.01,0.05 --gpus 0 --runs-dir "$RUNS"
rm -rf "$RUNS"
echo "=== done; logs in $OUT"
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}"; exit 1; fi
echo "all steps passed"
