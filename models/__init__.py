"""Risk models with their exact explanations, and the note reader and summarizer; no Flask.

The runtime (what `cdss serve` loads; numpy and medspacy, no training libraries):
- `criteria`: the clinical cut-offs (ADA, ACC/AHA 2017), one home for every layer.
- `features`: the inputs, read from a `PatientRecord` the way NHANES measured them.
- `risk_models`, `hypertension`, `parikh`: the shipped models and what each answers.
- `scoring`, `tree_shap`: logistic and tree models behind one interface, with exact Shapley values.
- `artifacts`, `registry`, `model_card_files`: sealed artifacts and model cards in `shipped/`,
  verified and loaded at start-up.
- `note_analysis`, `clinical_findings`, `sentence_vectors`, `note_summary`: the extractive note
  summary (sections, assertions, excerpt choice).

`training/`: `cdss train` and `cdss evaluate` (the `[train]` extra); nothing above imports it.
"""
