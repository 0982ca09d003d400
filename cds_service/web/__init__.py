"""The service's HTTP face, the only part of `cds_service` with views: Flask blueprints (discovery,
hooks, feedback, health and metrics, model cards, the admin API and page, the SMART app), the
request guard (the CDS Hooks JWT), CORS, page headers, request timing and the one error renderer.

Views are thin: they parse, call the domain parts (`components`, `hook_runner`, `admin`,
`smart`, `storage`), and serialise. `cds_service.app.create_app` registers them.
"""
