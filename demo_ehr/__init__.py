"""A small EHR for trying the service locally (`cdss demo`, the `[demo]` extra): patients in a
FHIR server, hook calls as an EHR makes them, a SMART authorization server. Not part of what a
hospital deploys: nothing in `cds_service` imports it but the `demo` command."""
