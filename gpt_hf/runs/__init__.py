"""The Trainer runs: one lifecycle (`lifecycle.TrainerRun`: output staging, the resume decision, the final save),
the Trainer that owns its part (`trainer.GPTTrainer`: complete checkpoints, stop signals, disk-full reporting), the
arguments resolved once (`arguments`), and the two runs that plug into it: pretraining and fine-tuning, each with its
argument classes."""
