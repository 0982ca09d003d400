"""Population risk: a whole panel scored from a FHIR Bulk Data export with the hook path's code.

- `scoring`: one patient's work-list row, as `patient-view` would answer for the chart, and the
  single-process loop over an export folder.
- `chart_search`: the services' prefetch templates filled from exported resources.
- `export_files`: an export folder's NDJSON files, grouped by patient.
- `synthetic_export`: a seeded generator of export folders for tests and benchmarks.
"""
