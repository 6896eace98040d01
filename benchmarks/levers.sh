#!/usr/bin/env bash
# The lever table of docs/results.md ("Levers tried"): fine-tuning variants against the default recipe on the rows of
# benchmarks/payoff.sh's studies (run that first), three seeds, 100 and 1,000 labels; and task-adaptive pre-training
# (the other domain's model trained on the topic task's 2,000 training texts before fine-tuning), and pretraining 1.5x
# longer. ~1.5 hours on 2 cores. docs/results.md's table was measured against the studies of the 1,200-step tiny
# recipe (the default before): PRETRAINED=<that model> STUDIES=<its payoff.sh folder> bash benchmarks/levers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
STUDIES=${STUDIES:-outputs/payoff}
RESULTS=${RESULTS:-outputs/levers.jsonl}
PRETRAINED=${PRETRAINED:-outputs/demo/pretrained}
lever() {  # lever STUDY BENCHMARK PRETRAINED VARIANT...
    "$PY" benchmarks/levers.py run "$STUDIES/$1" --benchmark "$2" --pretrained "$3" --variants "${@:4}" \
        --results "$RESULTS"
}
lever topic topic "$PRETRAINED" lr_x3 lr_x3_10_epochs reinit_top_block no_aux_lm mean_pooling extract_and_mean \
    layer_decay
lever acceptability acceptability "$PRETRAINED" mean_pooling extract_and_mean
lever topic-other-domain topic "$STUDIES/pretrained-other-domain" mean_pooling
# pretraining 1,800 steps instead of 1,200
"$PY" scripts/pretrain.py scripts/configs/tiny.json --max_steps 1800 --warmup_steps 180 --eval_steps 300 \
    --save_steps 1800 --output_dir "$STUDIES/pretrained-1800" --overwrite_output_dir true --report_to none
lever topic topic "$STUDIES/pretrained-1800" longer_pretraining
lever acceptability acceptability "$STUDIES/pretrained-1800" longer_pretraining
# task-adaptive pre-training: continue the other domain's model on the topic task's training texts (no labels)
"$PY" -c "import json, sys; print('\n\n'.join(json.loads(l)['text'] for l in open(sys.argv[1])))" \
    "$STUDIES/topic/train-2000-0.jsonl" > "$STUDIES/topic-train-texts.txt"
"$PY" scripts/pretrain.py --model_name_or_path "$STUDIES/pretrained-other-domain" \
    --train_files "$STUDIES/topic-train-texts.txt" --document_unit paragraph --output_dir "$STUDIES/task-adapted" \
    --overwrite_output_dir true --max_steps 200 --learning_rate 5e-4 --warmup_steps 20 \
    --per_device_train_batch_size 16 --block_size 128 --use_cpu true --report_to none --eval_strategy steps \
    --eval_steps 100 --save_strategy no --sample_prompt ""
lever topic-other-domain topic "$STUDIES/task-adapted" task_adaptive
"$PY" benchmarks/levers.py table "$RESULTS" "$STUDIES"
