"""Changing the managed configuration: validated, versioned, audited, in force at once.

Used alike by the JSON endpoints and the admin page, so both refuse and record the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from cds_service.admin.access import AdminActor
from cds_service.errors import ConfigConflict, InvalidRequest, PreconditionFailed, Problem
from cds_service.managed_config import (
    FILE_VERSION,
    LiveConfig,
    ManagedConfig,
    config_changes,
    merge_patch,
    parse_config_document,
)
from cds_service.storage.admin_records import (
    CONFIG_REFUSED,
    AuditLog,
    ConfigVersion,
    ConfigVersionStore,
    VersionConflict,
)

log = logging.getLogger(__name__)

MAX_COMMENT_LENGTH = 2000


class ConfigAdministration:
    """The managed configuration's changes, history and rollbacks."""

    def __init__(
        self,
        versions: ConfigVersionStore,
        audit: AuditLog,
        live: LiveConfig,
        service_ids: Sequence[str],
    ) -> None:
        self._versions = versions
        self._audit = audit
        self._live = live
        self._service_ids = tuple(service_ids)

    def replace(
        self,
        document: Any,
        actor: AdminActor,
        source: str | None,
        *,
        comment: str | None = None,
        expected_version: int | None = None,
    ) -> ConfigVersion:
        """Put a whole new document in force; `InvalidRequest` (audited) when it is not valid."""
        return self._change(lambda _: document, actor, source, comment, expected_version)

    def patch(
        self,
        document: Any,
        actor: AdminActor,
        source: str | None,
        *,
        comment: str | None = None,
        expected_version: int | None = None,
    ) -> ConfigVersion:
        """Merge `document`, a JSON merge patch (RFC 7396), into the one in force; as `replace`."""
        if not isinstance(document, dict):
            self._refuse([Problem("config", "must be a JSON object")], actor, source)
        return self._change(
            lambda current: merge_patch(current, document), actor, source, comment, expected_version
        )

    def rollback(
        self, version: int, actor: AdminActor, source: str | None, *, comment: str | None = None
    ) -> ConfigVersion:
        """Put an earlier version's document in force again, as a new version."""
        current = self._live.current()
        if version == FILE_VERSION:
            earlier = self._live.file_values.config
        else:
            stored = self._versions.get(version) if 0 < version < current.version else None
            if stored is None:
                self._refuse([Problem("version", "no such earlier version")], actor, source)
            earlier = ManagedConfig.model_validate(stored.document)
        return self._store(
            current.version, current.config, earlier, actor, source, comment, restored_from=version
        )

    def history(self, limit: int) -> list[ConfigVersion]:
        """The stored versions, newest first (version 0 is the configuration file)."""
        return self._versions.history(limit)

    def _change(
        self,
        new_document: Callable[[dict[str, Any]], Any],
        actor: AdminActor,
        source: str | None,
        comment: str | None,
        expected_version: int | None,
    ) -> ConfigVersion:
        current = self._live.current()
        if expected_version is not None and expected_version != current.version:
            raise PreconditionFailed(
                f"version {current.version} is in force, not {expected_version}: "
                "read it again and retry"
            )
        document = new_document(current.config.to_json())
        config = self._validated(document, actor, source)
        return self._store(current.version, current.config, config, actor, source, comment)

    def _validated(self, document: Any, actor: AdminActor, source: str | None) -> ManagedConfig:
        try:
            return parse_config_document(document, self._service_ids)
        except InvalidRequest as exc:
            self._refuse(exc.problems, actor, source)

    def _refuse(
        self, problems: Sequence[Problem], actor: AdminActor, source: str | None
    ) -> NoReturn:
        # The problems name fields and rules, never a submitted value.
        self._audit.record(
            CONFIG_REFUSED,
            actor=actor.name,
            source=source,
            detail={"problems": [str(problem) for problem in problems]},
        )
        raise InvalidRequest("configuration refused; nothing was changed", problems)

    def _store(
        self,
        based_on: int,
        before: ManagedConfig,
        after: ManagedConfig,
        actor: AdminActor,
        source: str | None,
        comment: str | None,
        restored_from: int | None = None,
    ) -> ConfigVersion:
        if comment is not None and len(comment) > MAX_COMMENT_LENGTH:
            self._refuse([Problem("comment", "is too long")], actor, source)
        try:
            stored = self._versions.append(
                after.to_json(),
                config_changes(before.to_json(), after.to_json()),
                actor=actor.name,
                source=source,
                based_on=based_on,
                comment=comment,
                restored_from=restored_from,
            )
        except VersionConflict as exc:
            raise ConfigConflict(f"nothing was changed: {exc}; read it again and retry") from exc
        log.info("configuration version %d put in force", stored.version)
        return stored
