"""Training and evaluation of the shipped models: `cdss train` and `cdss evaluate` (`[train]`).

Nothing that serves a request imports this package: the import contract in `pyproject.toml`
(`lint-imports`, run by the test command) fails the build if a runtime module reaches it.

- `nhanes`: NHANES 2017-18 as the models' training populations.
- `fitting`: the design matrices, the split, and the learners (regularised logistic regression,
  XGBoost).
- `calibration`: Platt recalibration and its intercept and slope.
- `evaluation`, `published_scores`: held-out figures with CIs, against the published baselines.
- `model_card`: the model cards and their plots; `pipeline`: all of it, as `cdss train` runs it.
- `note_evaluation`: the note summary's faithfulness and ROUGE on the reference notes.
"""
