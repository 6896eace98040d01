"""The task family: everything fine-tuning knows about a kind of task, one table per fact.

    columns            the normalised columns rows are read into
    transforms         the paper's input transformations (Figure 1) and the padding collator
    targets            labels into targets, one encoder per prediction kind, and the row-naming checks
    prediction_kinds   PREDICTION_KINDS: targets, predictions, metrics, written form, per kind
    labels             LABEL_FORMATS: how labels come (classes, scores, choice)
    types              TASK_TYPES: columns, transform, head, label format per task type; register_task_type
    self_labelled      BUILDERS: examples built offline from any corpus
    benchmarks         BENCHMARKS: ready-made data sets (Hub and self-labelled), one interface
    rows               a task's labelled rows loaded and checked (empty text, labels, hold-out, overlap)

No module outside this wing branches on a task type's, label format's, prediction kind's or benchmark's name
(tests/test_architecture.py checks)."""
