#!/usr/bin/env bash
# Train the default model on a GPU box, choose it on the dev split, package it, and benchmark the engine there.
#
# Runs a small sweep of training recipes in parallel on one GPU (each job is launch-bound at batch 32, so several
# share a GPU well), picks the job with the best *dev* score (the official validation splits are measured by each
# job but never read here), tars the winner and splits it into <16 MiB parts, then runs the CUDA benchmark.
#
# Inputs (a bare box with python3, torch, transformers, numpy, rich; no Bearwatch service deps, no hub):
#   .gpu/base          fp16 copy of all-MiniLM-L6-v2 (config, tokenizer, model.safetensors)
#   .gpu/data/sent     sent_train.csv, sent_valid.csv     .gpu/data/topic  topic_*.csv, classes.txt
# Output ($OUT): model.tar.part-* (reassemble: cat model.tar.part-* | tar -x), sweep.json, train_logs.txt,
#   bench_cuda_*.json.
# Example:  OUT=/tmp/out BUDGET_MIN=5 bash bench/gpu_train.sh     (SOUP=1: greedy weight soup of the runs)
# Local smoke (CPU): OUT=/tmp/o DEVICE=cpu RECIPES="a:--lr 8e-5" EXTRA="--limit 200 --max-steps 5" BENCH=0 bash ...
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
BASE=${BASE:-.gpu/base}
SENT=${SENT:-.gpu/data/sent}
TOPIC=${TOPIC:-.gpu/data/topic}
WORK=${WORK:-/tmp/bw-train}
EPOCHS=${EPOCHS:-8}
BUDGET_MIN=${BUDGET_MIN:-5}
DEVICE=${DEVICE:-cuda}
EXTRA=${EXTRA:-}
BENCH=${BENCH:-1}
RECIPES=${RECIPES:-"lr5e-5:--lr 5e-5;lr8e-5:--lr 8e-5;lr1.2e-4:--lr 1.2e-4;lr2e-4:--lr 2e-4;lr8e-5-ls:--lr 8e-5 --label-smoothing 0.1;lr1.2e-4-ls:--lr 1.2e-4 --label-smoothing 0.1"}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=2
mkdir -p "$OUT" "$WORK"
PY=${PY:-python3}
start=$(date +%s)
IFS=';' read -ra JOBS <<< "$RECIPES"
for job in "${JOBS[@]}"; do
  name=${job%%:*}; args=${job#*:}
  # shellcheck disable=SC2086
  $PY -m monitor.stages.model.train --base "$BASE" --base-name sentence-transformers/all-MiniLM-L6-v2 \
      --sentiment-data "$SENT" --topic-data "$TOPIC" --out "$WORK/$name" --device "$DEVICE" --epochs "$EPOCHS" \
      --patience 2 --time-budget-minutes "$BUDGET_MIN" --overwrite $args $EXTRA > "$WORK/$name.log" 2>&1 &
done
wait
echo "sweep finished in $(( $(date +%s) - start )) s"
for job in "${JOBS[@]}"; do name=${job%%:*}; echo "===== $name"; cat "$WORK/$name.log"; done > "$OUT/train_logs.txt"
grep -h -E "^(epoch [0-9]+:|early stop|time budget|validation|Traceback|.*Error)" "$WORK"/*.log | tail -80
$PY - "$WORK" "$OUT/sweep.json" <<'PYEOF'
import json, shutil, sys
from pathlib import Path
work, out = Path(sys.argv[1]), Path(sys.argv[2])
rows = []
for info in sorted(work.glob("*/bearwatch.json")):
    data = json.loads(info.read_text())
    metrics = json.loads((info.parent / "metrics.json").read_text()) if (info.parent / "metrics.json").exists() else {}
    rows.append({"job": info.parent.name, "best_dev_score": data["best_dev_score"], "best_epoch": data["best_epoch"],
                 "history": data["history"], "validation_for_report_only": {
                     h: {k: metrics[h][k] for k in ("accuracy", "macro_f1", "weighted_f1")} for h in ("sentiment", "topic") if h in metrics}})
if not rows:
    sys.exit("no job finished")
best = max(rows, key=lambda r: r["best_dev_score"])  # chosen on the dev split only
for r in rows:
    print(f"{r['job']:>14}: dev score {r['best_dev_score']:.4f} (epoch {r['best_epoch']})" + ("  <= chosen" if r is best else ""))
shutil.copytree(work / best["job"], work / "best", dirs_exist_ok=True)
out.write_text(json.dumps({"chosen": best["job"], "rule": "max dev score", "jobs": rows}, indent=1))
PYEOF
rm -rf "$WORK/best/checkpoint"
if [ "${SOUP:-0}" = 1 ]; then
  # Greedy soup over every finished run, chosen on the dev split; replaces the best single run when it succeeds.
  mapfile -t RUNS < <(for job in "${JOBS[@]}"; do d="$WORK/${job%%:*}"; [ -f "$d/bearwatch.json" ] && echo "$d"; done)
  if $PY -m monitor.stages.model.soup --models "${RUNS[@]}" --out "$WORK/soup" --device "$DEVICE" 2>&1 \
      | grep -v "Loading weights" | tee "$WORK/soup.log"; then
    rm -rf "$WORK/best" && mv "$WORK/soup" "$WORK/best"
  fi
  cat "$WORK/soup.log" >> "$OUT/train_logs.txt"
fi
tar -C "$WORK" -cf "$WORK/model.tar" best && split -b 15m "$WORK/model.tar" "$OUT/model.tar.part-"
ls -la "$OUT"
if [ "$BENCH" = 1 ]; then
  for dtype in bf16 fp16; do
    $PY bench/model_throughput.py --model "$WORK/best" --device cuda --dtype "$dtype" --n 2000 \
        --batch-sizes 1,8,16,32,64,128,256,512 --sentiment-data "$SENT" --topic-data "$TOPIC" \
        --json-out "$OUT/bench_cuda_$dtype.json" 2>&1 | grep -v "Loading weights"
  done
fi
echo "total $(( $(date +%s) - start )) s"
