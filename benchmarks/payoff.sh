#!/usr/bin/env bash
# The evidence behind docs/results.md, "Pre-training vs the alternatives": the data-efficiency study (pre-trained vs
# from scratch vs TF-IDF + logistic regression, the default fine-tuning recipe) on three built-in tasks at 100, 1,000
# and 2,000 labels with five seeds, and on the topic task once more with a model pretrained on text from another
# domain (the built-in corpus without the six module families the topic task asks about). ~45 minutes on 2 cores.
# Needs the tiny recipe's pretrained model first: `make demo` leaves it in outputs/demo/pretrained.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-outputs/payoff}
PRETRAINED=${PRETRAINED:-outputs/demo/pretrained}
mkdir -p "$OUT"
study() {  # study NAME PRETRAINED BENCHMARK
    "$PY" scripts/data_efficiency.py --pretrained "$2" --benchmark "$3" --label_counts 100 1000 all \
        --seeds 0 1 2 3 4 --max_train_samples 2000 --max_eval_samples 200 --max_test_samples 500 --max_length 64 \
        --output_dir "$OUT/$1" --overwrite_output_dir true
}
for task in acceptability next_sentence topic; do
    study "$task" "$PRETRAINED" "$task"
done
# another domain: the built-in corpus without the topic task's module families, pretrained with the same recipe
"$PY" - "$OUT/other-domain.txt" <<'PYTHON'
import sys
from gpt_hf.data.corpus import builtin_corpus_sources
from gpt_hf.tasks.self_labelled import TOPIC_FAMILIES
kept = [text for source, text in builtin_corpus_sources() if source.split("/", 1)[0] not in TOPIC_FAMILIES]
open(sys.argv[1], "w", encoding="utf-8").write("\n\n".join(kept))
PYTHON
"$PY" scripts/pretrain.py scripts/configs/tiny.json --train_files "$OUT/other-domain.txt" \
    --output_dir "$OUT/pretrained-other-domain" --overwrite_output_dir true --report_to none
study topic-other-domain "$OUT/pretrained-other-domain" topic
"$PY" benchmarks/payoff.py "$OUT/acceptability" "$OUT/next_sentence" "$OUT/topic" "$OUT/topic-other-domain" \
    --plot docs/payoff.png
