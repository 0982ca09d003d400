"""The CDS services this server offers, registered in discovery order.

Each service lives in a module of its own under `cds_service.services`; this module only lists
them and makes their advisors from the parts loaded at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cds_service.services import diabetes_risk, hypertension_risk, note_summary
from cds_service.services.definition import CdsService, CdsServiceDefinition, LoadedParts

# Adding a service: a module in cds_service/services/ and its definition here.
DEFINITIONS: tuple[CdsServiceDefinition, ...] = (
    diabetes_risk.DEFINITION,
    hypertension_risk.DEFINITION,
    note_summary.DEFINITION,
)
SERVICE_IDS = tuple(definition.id for definition in DEFINITIONS)


class ServiceCatalog:
    """The services on offer, by id."""

    def __init__(self, services: Sequence[CdsService]) -> None:
        self._services = {service.id: service for service in services}

    @classmethod
    def offering(cls, parts: LoadedParts) -> ServiceCatalog:
        """Every registered service, with its advisor made from these parts."""
        return cls([CdsService(d, d.advisor(parts)) for d in DEFINITIONS])

    def get(self, service_id: str) -> CdsService | None:
        """The service with this id, or None."""
        return self._services.get(service_id)

    def all(self) -> tuple[CdsService, ...]:
        """Every service, in discovery order."""
        return tuple(self._services.values())

    def discovery_document(self, offered: Callable[[str], bool] = lambda _: True) -> dict[str, Any]:
        """The body of `GET /cds-services`, listing the services `offered` says yes to."""
        return {
            "services": [
                service.definition.discovery_entry()
                for service in self.all()
                if offered(service.id)
            ]
        }
