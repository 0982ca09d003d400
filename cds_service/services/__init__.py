"""The CDS services, one module each: its discovery entry, its prefetch templates and its advisor.

- `definition`: what every service is made of (`CdsServiceDefinition`, `ServiceInput`, the
  parts loaded at start-up that advisors draw on) and the prefetch templates services share.
- `diabetes_risk`, `hypertension_risk`, `note_summary`: the services.

Adding a service is one module here that defines `DEFINITION`, and one line in
`cds_service.catalog`, which only registers them.
"""
