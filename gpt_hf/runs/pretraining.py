"""Language-model pretraining with the Trainer: data -> tokenizer -> packed blocks -> model -> Trainer -> saved folder.

Every check that can fail on user input runs before the output folder is created or a step is taken. Work that must
happen once (training a tokenizer, writing files) runs on the main process; the other processes wait and read it.
The run's lifecycle is `lifecycle.TrainerRun`'s; this module supplies what differs: data, tokenizer, model, outputs.
"""

import json
import logging
from pathlib import Path

import datasets
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed

from ..data.documents import load_text_dataset, load_text_stream
from ..data.packing import PackedStream, collate_blocks, tokenize_and_pack
from ..data.token_store import TokenStore
from ..data.tokenizer import (
    check_tokenizer_matches_config,
    check_vocab_size,
    save_tokenizer,
    special_token_ids,
    train_tokenizer,
)
from ..errors import ArgumentError, argument_errors
from ..interop.hub import write_model_card
from ..interop.loading import check_model_folder, load_model, load_tokenizer, read_json_object
from ..model.configuration_gpt_hf import GPTHFConfig
from ..model.modeling_gpt_hf import GPTHFForCausalLM
from ..model.presets import PRESETS, config_from_preset
from ..output.plotting import plot_loss_curve
from .arguments import check_max_length
from .lifecycle import TrainerRun
from .records import corpus_sources, run_record

logger = logging.getLogger(__name__)


def resolve_model_config(model_args) -> GPTHFConfig:
    """The run's model config, resolved once: the folder's (--model_name_or_path), a preset name or a JSON file
    (--config_name, default the tiny preset), with --config_overrides applied."""
    flags = "--config_overrides" if model_args.config_overrides else "--config_name / --model_name_or_path"
    with argument_errors(f"{flags} give an invalid model config: "):
        return _model_config(model_args)


def _model_config(model_args) -> GPTHFConfig:
    if model_args.model_name_or_path:
        check_model_folder(model_args.model_name_or_path)
        try:
            return GPTHFConfig.from_pretrained(model_args.model_name_or_path, **model_args.overrides)
        except OSError as err:
            raise ArgumentError(f"Cannot load the model config from {model_args.model_name_or_path}: {err}") from None
    name = model_args.config_name or "tiny"
    if name in PRESETS:
        return config_from_preset(name, **model_args.overrides)
    if not Path(name).is_file():
        raise ArgumentError(f"--config_name {name!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON file.")
    values = read_json_object(name, "--config_name")
    values.pop("model_type", None)
    return GPTHFConfig(**{**values, **model_args.overrides})


def _given_tokenizer(path: str):
    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise ArgumentError(f"--tokenizer_name_or_path {path}: cannot load a tokenizer from it ({err}).") from None


def _trained_vocab_size(model_args, data_args, config: GPTHFConfig) -> tuple[int | None, str]:
    """The vocabulary of a tokenizer trained on the data, and the flag that sets it (for error messages)."""
    if data_args.tokenizer_vocab_size is not None:
        return data_args.tokenizer_vocab_size, "--tokenizer_vocab_size"
    if model_args.model_name_or_path is None:  # a new model: the tokenizer fills its config's vocabulary
        return config.vocab_size, (
            "The config's vocab_size (the default of --tokenizer_vocab_size; or set "
            '"vocab_size" in --config_overrides)'
        )
    return None, "--tokenizer_vocab_size"


def check_tokenizer_before_data(model_args, data_args, config: GPTHFConfig, store: TokenStore | None = None) -> None:
    """What is known of the run's tokenizer before any data is read: a token store's ids come from the tokenizer
    given (or the model folder continued agrees with the store's); a given one loads and agrees with the model folder
    it continues; one to be trained has room for its flavour's alphabet."""
    if store is not None:
        if model_args.tokenizer_name_or_path:
            store.check_tokenizer(_given_tokenizer(model_args.tokenizer_name_or_path))
        if model_args.model_name_or_path:
            check_tokenizer_matches_config(store.tokenizer(), config)
        return
    if model_args.tokenizer_name_or_path:
        tokenizer = _given_tokenizer(model_args.tokenizer_name_or_path)
        if model_args.model_name_or_path:
            check_tokenizer_matches_config(tokenizer, config)
        return
    vocab_size, flag = _trained_vocab_size(model_args, data_args, config)
    if vocab_size is not None and not model_args.model_name_or_path:
        check_vocab_size(data_args.tokenizer_flavour, vocab_size, flag)


def prepare_tokenizer(model_args, data_args, raw_datasets, training_args, config: GPTHFConfig):
    """The tokenizer given, a token store's, the model folder's, or one trained on the training split (main process
    trains); and whether to save it with the model."""
    if isinstance(raw_datasets, TokenStore):
        return raw_datasets.tokenizer(), True
    if model_args.tokenizer_name_or_path:
        return _given_tokenizer(model_args.tokenizer_name_or_path), False
    if model_args.model_name_or_path is not None:
        try:
            return AutoTokenizer.from_pretrained(model_args.model_name_or_path), False
        except (OSError, ValueError):
            logger.info("No tokenizer in %s; training one on the data.", model_args.model_name_or_path)
    vocab_size, flag = _trained_vocab_size(model_args, data_args, config)
    documents = raw_datasets["train"]
    if data_args.tokenizer_train_documents is not None:
        documents = (
            documents.take(data_args.tokenizer_train_documents)
            if data_args.streaming
            else documents.select(range(min(data_args.tokenizer_train_documents, len(documents))))
        )
    tokenizer, summary = train_tokenizer(
        dataset=documents,
        flavour=data_args.tokenizer_flavour,
        vocab_size=vocab_size,
        vocab_flag=flag,
        model_max_length=config.n_positions,
        show_progress=training_args.local_process_index == 0,
    )
    logger.info("Tokenizer trained on the training split: %s", summary)
    return tokenizer, True


def build_model(model_args, tokenizer, config: GPTHFConfig) -> GPTHFForCausalLM:
    """Continue from a folder (its tokenizer must agree), or build a new model from `config` sized for the
    tokenizer."""
    if model_args.model_name_or_path:
        model = load_model(
            AutoModelForCausalLM,
            model_args.model_name_or_path,
            attn_implementation=model_args.attn_implementation,
            **model_args.overrides,
        )
    else:
        for key, value in special_token_ids(tokenizer).items():
            setattr(config, key, value)
        with argument_errors("The tokenizer does not fit the model config: "):
            config.validate()
        model = GPTHFForCausalLM._from_config(config, attn_implementation=model_args.attn_implementation)
    check_tokenizer_matches_config(tokenizer, model.config)
    generation = model.generation_config
    generation.bos_token_id, generation.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    return model


def pretrain(model_args, data_args, training_args) -> dict:
    """Run pretraining end to end; returns the summary (tokens seen, tokens/s, final validation perplexity).

    The run's lifecycle (output folder, resume, checkpoints, stop signals, final save) is `lifecycle.TrainerRun`'s;
    this function supplies the data, the tokenizer, the model and what the finished folder holds."""
    run = TrainerRun(training_args)  # the output folder and the resume decision, before any data is read
    config = resolve_model_config(model_args)
    block_size = check_max_length(data_args.block_size, config.n_positions, flag="--block_size")
    store = TokenStore(data_args.data_dir) if data_args.data_dir else None  # complete, of a format we read
    check_tokenizer_before_data(model_args, data_args, config, store)
    set_seed(training_args.seed)
    raw = store if store is not None else load_corpus(data_args, training_args)
    with run.folder() as args:
        tokenizer, model = _tokenizer_and_model(model_args, data_args, run, raw, config)
        with args.main_process_first(desc="tokenize_and_pack"):
            blocks = pack_splits(raw, tokenizer, block_size, data_args, args)
        trainer = run.trainer(
            model=model,
            train_dataset=blocks["train"],
            eval_dataset=blocks["validation"],
            data_collator=collate_blocks,
        )
        blocks_per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
        logger.info(
            "Model: %s parameters. %s tokens per optimizer step (%d blocks of %d tokens).",
            f"{model.num_parameters():,}",
            f"{blocks_per_step * block_size:,}",
            blocks_per_step,
            block_size,
        )
        train_result = run.train(trainer)
        eval_metrics = trainer.evaluate()
        summary = training_summary(trainer, train_result.metrics, blocks_per_step * block_size, eval_metrics)
        summary["run"] = run_record(
            "pretraining",
            trainer=trainer,
            data=corpus_sources(data_args, store),
            counts=corpus_counts(raw, blocks, summary),
            model_args=model_args,
            extra={"block_size": block_size, "parameters": model.num_parameters()},
        )

        def write(folder: Path) -> None:
            trainer.save_metrics("train", train_result.metrics)
            _save_final(trainer, tokenizer, folder, run.output_dir.name, data_args, summary, eval_metrics)

        run.save_final(trainer, write)
    logger.info(format_summary(summary))
    return summary


def load_corpus(data_args, training_args):
    """The text corpus: map-style `datasets` splits, or (--streaming) a stream with a fixed validation set."""
    if not data_args.streaming:
        return load_text_dataset(**data_args.source_options, seed=training_args.seed)
    if training_args.max_steps <= 0:
        raise ArgumentError(
            "--streaming needs --max_steps: a stream has no length, so the Trainer cannot count epochs."
        )
    raw = load_text_stream(
        **data_args.source_options, seed=training_args.seed, max_validation_documents=data_args.max_validation_documents
    )
    shards, workers = raw["train"].num_shards, training_args.dataloader_num_workers
    if workers > shards:  # each DataLoader worker reads whole shards (files): the rest would find none
        raise ArgumentError(
            f"--dataloader_num_workers {workers} exceeds the stream's {shards} shards (one per "
            f"file); use at most {shards}, or split the corpus into more files."
        )
    return raw


def _tokenizer_and_model(model_args, data_args, run: TrainerRun, raw, config):
    """The run's tokenizer (read back when resuming, or on the processes that waited for the main one to train and
    save it) and its model; the main process saves a newly trained tokenizer into the run's folder first, so that
    every process and a resumed run read the same one."""
    args, work_dir = run.arguments.trainer_args, run.work_dir
    with args.main_process_first(desc="tokenizer", local=False):
        saved = (
            (work_dir / "tokenizer.json").is_file()
            and not model_args.tokenizer_name_or_path
            and not model_args.model_name_or_path
        )
        if saved and (run.resuming or not run.is_main):
            tokenizer, trained = load_tokenizer(work_dir), False
        else:
            tokenizer, trained = prepare_tokenizer(model_args, data_args, raw, args, config)
        model = build_model(model_args, tokenizer, config)
        if trained:  # every check passed: now the output folder may be written
            run.write("the tokenizer", lambda folder: save_tokenizer(tokenizer, folder, model.config))
    return tokenizer, model


def _save_final(trainer, tokenizer, folder: Path, model_name: str, data_args, summary: dict, eval_metrics) -> None:
    """The finished run's folder: model (with its code), tokenizer, metrics, sample, loss curve, model card and
    summary (with the run's record, which the card states)."""
    model, args = trainer.model, trainer.args
    trainer.save_model(folder)  # weights, config (auto_map for every head), code files, generation config
    save_tokenizer(tokenizer, folder, model.config)
    trainer.save_metrics("eval", eval_metrics)
    if data_args.sample_prompt:
        summary["sample"] = sample_continuation(model, tokenizer, data_args.sample_prompt, args.seed)
        logger.info("Sample: %r", summary["sample"])
    plot_loss_curve(trainer.state.log_history, folder / "loss_curve.png", f"Pretraining {model_name}")
    results = {"eval_loss": eval_metrics.get("eval_loss"), "perplexity": eval_metrics.get("eval_perplexity")}
    write_model_card(
        folder,
        model.config,
        model_name=model_name,
        record=summary["run"],
        results={name: value for name, value in results.items() if value is not None},
    )
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))


def corpus_counts(raw, blocks, summary: dict) -> dict:
    """What the run counted of its corpus: documents per split where known (a stream's training documents are
    not), blocks, and the tokens the optimizer saw."""
    counts = {}
    if isinstance(raw, TokenStore):
        counts.update(
            {f"{split} documents": raw.metadata["splits"][split]["documents"] for split in ("train", "validation")}
        )
    else:
        for split in ("train", "validation"):
            if hasattr(raw[split], "__len__"):
                counts[f"{split} documents"] = len(raw[split])
    for split in ("train", "validation"):
        if hasattr(blocks[split], "__len__"):
            counts[f"{split} blocks"] = len(blocks[split])
    counts["tokens seen"] = summary["tokens_seen"]
    return counts


def pack_splits(raw, tokenizer, block_size: int, data_args, training_args) -> dict:
    """Blocks for the Trainer: a token store's blocks read by index, Arrow-cached datasets (map-style), or an endless
    `PackedStream` for training plus a small packed validation set (streaming; the stream's first block is read now,
    so too little text fails here)."""
    if isinstance(raw, TokenStore):
        return {split: raw.blocks(split, block_size) for split in ("train", "validation")}
    if not data_args.streaming:
        return tokenize_and_pack(raw, tokenizer, block_size, num_proc=data_args.preprocessing_num_workers)
    if data_args.preprocessing_num_workers is not None:
        logger.warning(
            "--preprocessing_num_workers applies to the map-style path; with --streaming, tokenising runs "
            "in the DataLoader: use --dataloader_num_workers."
        )
    train = PackedStream(
        raw["train"], tokenizer, block_size, seed=training_args.seed, shuffle_buffer_size=data_args.shuffle_buffer_size
    )
    train.check_not_empty()
    validation = tokenize_and_pack(datasets.DatasetDict(validation=raw["validation"]), tokenizer, block_size)
    return {"train": train, **validation}


def sample_continuation(model, tokenizer, prompt: str, seed: int, max_new_tokens: int = 40) -> str:
    """A short top-k sampled continuation (seeded), to eyeball what the model learnt."""
    set_seed(seed)
    context = model.config.n_positions
    inputs = tokenizer(prompt, return_tensors="pt", truncation=True, max_length=context // 2).to(model.device)
    max_new_tokens = min(max_new_tokens, context - inputs["input_ids"].shape[1])  # stay inside the context
    model.eval()
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=True, top_k=40)
    return tokenizer.decode(output[0], skip_special_tokens=True)


def training_summary(trainer, train_metrics: dict, tokens_per_step: int, eval_metrics: dict | None) -> dict:
    """Tokens seen, tokens/s and the final validation perplexity of a finished run. Throughput counts the steps this
    process ran (a resumed run's runtime covers only those), the tokens seen every step of the run."""
    steps = trainer.state.global_step
    runtime = train_metrics.get("train_runtime") or float("nan")
    summary = {
        "steps": steps,
        "tokens_seen": steps * tokens_per_step,
        "tokens_per_second": trainer.progress.steps_run * tokens_per_step / runtime,
        "train_loss": train_metrics.get("train_loss"),
    }
    if eval_metrics:
        summary["eval_loss"] = eval_metrics.get("eval_loss")
        summary["eval_perplexity"] = eval_metrics.get("eval_perplexity")
    return summary


def format_summary(summary: dict) -> str:
    parts = [
        f"steps={summary['steps']}",
        f"tokens_seen={summary['tokens_seen']:,}",
        f"tokens/s={summary['tokens_per_second']:.0f}",
    ]
    if summary.get("eval_perplexity") is not None:
        parts.append(f"validation_perplexity={summary['eval_perplexity']:.2f}")
    return "Summary: " + " ".join(parts)
