"""`GET /model-cards/{name}`: the model cards the risk cards link to, with their plots.

Only the files `cdss train` writes for the shipped models are served: a name is looked up in
a fixed list, never joined into a path as given.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_file

from cds_service.errors import UnknownDocument
from cds_service.managed_config import MODEL_CARDS_PATH
from cds_service.web.context import current_components
from models.hypertension import INCIDENCE_MODEL
from models.model_card_files import CARDS_DIRECTORY, PLOTS
from models.registry import SHIPPED_DIRECTORY
from models.risk_models import LEARNED_MODELS

blueprint = Blueprint("model_cards", __name__)

_MODELS = (*(spec.name for spec in LEARNED_MODELS), INCIDENCE_MODEL)
_DOCUMENTS = {
    # Werkzeug adds "; charset=utf-8" to a text/* type itself (naming it here sent it twice).
    **{name: (f"{name}.md", "text/markdown") for name in _MODELS},
    **{
        f"{spec.name}-{plot}.png": (f"{spec.name}-{plot}.png", "image/png")
        for spec in LEARNED_MODELS
        for plot in PLOTS
    },
}


def model_cards_directory(models_directory: Path | None) -> Path:
    """Where the model cards of the artifacts in use are."""
    return (models_directory or SHIPPED_DIRECTORY) / CARDS_DIRECTORY


@blueprint.get(f"{MODEL_CARDS_PATH}/<name>")
def model_card(name: str) -> Response:
    """A model card (Markdown) or one of its plots (PNG)."""
    found = _DOCUMENTS.get(name)
    if found is None:
        raise UnknownDocument("no such model card")
    filename, mimetype = found
    path = model_cards_directory(current_components().settings.models.directory) / filename
    if not path.is_file():
        raise UnknownDocument("no such model card")
    return send_file(path, mimetype=mimetype, max_age=3600)
