"""The card policy the service runs with under the default settings, made the way it makes it."""

from __future__ import annotations

from cds_service.managed_config import card_policy
from cds_service.settings import CardSettings

# The public base URL the golden cards were written with (their model-card and SMART links).
SERVICE_URL = "http://127.0.0.1:8080"
DEFAULT_POLICY = card_policy(CardSettings(), SERVICE_URL)
