"""The CDS Hooks service: what a hospital deploys (no demo, no training code).

- `app` (the factory), `server` (gunicorn: models loaded once, shared by the workers), `cli`.
- `web/`: the HTTP face, the only part with views: blueprints, the request guard, CORS, page
  headers, request timing and the one error renderer.
- `services/`: one module per CDS service (discovery entry, prefetch, advisor); `catalog`
  registers them; `hook_runner` answers one hook call.
- `auth/` (CDS Hooks JWTs), `admin/` (the managed configuration, admin access), `smart/` (the
  SMART detail page's content), `storage/` (SQLAlchemy, migrations).
- `population/`: a panel scored from a FHIR Bulk Data export with the hook path's services, card
  for card as `patient-view` would answer (no Flask: it runs in batch jobs).
- `settings` (the one typed configuration), `managed_config` (what `/admin` changes while it
  runs), `components` (the parts of a running process), `errors`, `protocol`, `privacy`,
  `metrics`.
"""
