"""Risk models, their explanations and the note summarizer (no Flask).

The diabetes and hypertension models and the summarizer arrive with their own issues; until
then the services that use them answer with no cards.
"""
