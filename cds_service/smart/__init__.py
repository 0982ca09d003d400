"""The SMART on FHIR detail app's logic: the launch, and what the page shows (no Flask).

Its views are in `cds_service.web.smart`.
"""
