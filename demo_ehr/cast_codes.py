"""The codes the demo's cast writes that `fhir_adapters.codes` has no constant for, each as
(code, display) and from the value set the adapter reads it by (fhir_adapters/value_sets/)."""

from __future__ import annotations

# ICD-10-CM (CMS 2025 tabular list): diagnoses as a problem list codes them.
ICD10_CM_ESSENTIAL_HYPERTENSION = ("I10", "Essential (primary) hypertension")
ICD10_CM_PREDIABETES = ("R73.03", "Prediabetes")
# RxNorm semantic clinical drugs (rxnorm-drugs.json).
RXNORM_LISINOPRIL_10_MG = ("314076", "lisinopril 10 MG Oral Tablet")
RXNORM_AMLODIPINE_5_MG = ("197361", "amlodipine 5 MG Oral Tablet")
# SNOMED CT 77386006 "Pregnancy", in the Pregnancy value set (pregnancy.json, CMS eCQM
# 2.16.840.1.113883.3.526.3.378).
SNOMED_PREGNANCY = ("77386006", "Pregnancy")
# SNOMED CT smoking status findings (US Core's smoking status value set; the adapter's reading
# of each is `fhir_adapters.codes.SMOKING_STATUS_BY_SNOMED`).
SNOMED_SMOKES_DAILY = ("449868002", "Smokes tobacco daily")
SNOMED_EX_SMOKER = ("8517006", "Ex-smoker")
SNOMED_NEVER_SMOKED = ("266919005", "Never smoked tobacco")
# SNOMED CT disorders of a relative (in the Diabetes and Essential Hypertension value sets).
SNOMED_TYPE_2_DIABETES = ("44054006", "Type 2 diabetes mellitus")
SNOMED_ESSENTIAL_HYPERTENSION = ("59621000", "Essential hypertension")
# HL7 v3 RoleCode: the relative a family history entry is of.
ROLE_MOTHER = ("MTH", "Mother")
ROLE_FATHER = ("FTH", "Father")
