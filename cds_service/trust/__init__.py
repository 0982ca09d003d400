"""Key sets shipped with the service (see `cds_service.auth.key_sets.BUILTIN_KEY_SETS`)."""
