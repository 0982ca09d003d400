"""Population risk: a whole panel scored from a FHIR Bulk Data export with the hook path's code.

- `scoring`: one patient's work-list row, as `patient-view` would answer for the chart, and the
  single-process loop over an export folder.
- `chart_search`: the services' prefetch templates filled from exported resources.
- `export_files`: an export folder's NDJSON files, grouped by patient.
- `spark_session`, `spark_job`: the Spark session (local by default, a cluster by master URL)
  and the job that groups an export by patient and scores each chart in the executors.
- `batch`: the scoring run `cdss population score` starts, with the scorer Spark's workers load.
- `report`: the HTML summary of a work list (counts only, small cells withheld).
- `commands`: `cdss population export` and `cdss population score`.
- `synthetic_export`: a seeded generator of export folders for tests and benchmarks.
"""
