"""A small EHR for trying the service locally: a SMART authorization server and a FHIR front."""
