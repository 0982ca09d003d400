"""Risk models, their explanations and (arriving) the note summarizer; no Flask.

- `features`: the inputs, read from a `PatientRecord` the way NHANES measured them.
- `risk_models`, `hypertension`, `parikh`: the shipped models and what each answers.
- `scoring`, `tree_shap`: logistic and tree models behind one interface, with exact Shapley values.
- `artifacts`, `registry`: sealed artifacts in `shipped/`, verified and loaded at start-up.
- `nhanes`, `training`, `calibration`, `evaluation`, `published_scores`, `model_card`, `pipeline`:
  `cdss train` and `cdss evaluate` (the `[train]` extra; the service does not import them).
"""
