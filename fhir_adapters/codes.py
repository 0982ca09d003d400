"""The codes and value sets the adapter reads, named in clinical terms.

Sources: LOINC and SNOMED CT codes as listed in `shared/reference/clinical.md`; ICD-10-CM chapter
ranges; ATC classes A10 (antidiabetics) and C02, C03, C07, C08, C09 (antihypertensives). EHRs send
RxNorm clinical-drug codes, not ingredients, and no RxNorm table installs offline, so medication
classes are matched on the ingredient's name in the coding display or text (word-bounded), the
fallback the reference recommends.
"""

from __future__ import annotations

from enum import StrEnum

# Code systems.
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


class Measure(StrEnum):
    """A quantity a model or card reads, with one canonical unit (see `units`)."""

    HBA1C = "hba1c"
    GLUCOSE_FASTING = "glucose-fasting"
    # Glucose whose timing the EHR did not record as fasting: read as random, as the ADA does.
    GLUCOSE_RANDOM = "glucose-random"
    BMI = "bmi"
    BODY_WEIGHT = "body-weight"
    BODY_HEIGHT = "body-height"
    WAIST_CIRCUMFERENCE = "waist-circumference"
    HDL_CHOLESTEROL = "hdl-cholesterol"
    TOTAL_CHOLESTEROL = "total-cholesterol"
    TRIGLYCERIDES = "triglycerides"
    LDL_CHOLESTEROL = "ldl-cholesterol"


LOINC_HBA1C = "4548-4"
LOINC_HBA1C_HPLC = "17856-6"
LOINC_HBA1C_IFCC = "59261-8"
LOINC_GLUCOSE_FASTING = "1558-6"
LOINC_GLUCOSE_SERUM = "2345-7"
LOINC_GLUCOSE_BLOOD = "2339-0"
LOINC_BMI = "39156-5"
LOINC_BODY_WEIGHT = "29463-7"
LOINC_BODY_HEIGHT = "8302-2"
LOINC_WAIST = "8280-0"
LOINC_BP_PANEL = "85354-9"
LOINC_BP_PANEL_OLD = "55284-4"
LOINC_SYSTOLIC = "8480-6"
LOINC_DIASTOLIC = "8462-4"
LOINC_HDL = "2085-9"
LOINC_TOTAL_CHOLESTEROL = "2093-3"
LOINC_TRIGLYCERIDES = "2571-8"
LOINC_LDL_CALCULATED = "13457-7"
LOINC_LDL_DIRECT = "18262-6"
LOINC_LDL = "2089-1"
LOINC_SMOKING_STATUS = "72166-2"

MEASURE_BY_LOINC: dict[str, Measure] = {
    LOINC_HBA1C: Measure.HBA1C,
    LOINC_HBA1C_HPLC: Measure.HBA1C,
    LOINC_HBA1C_IFCC: Measure.HBA1C,
    LOINC_GLUCOSE_FASTING: Measure.GLUCOSE_FASTING,
    LOINC_GLUCOSE_SERUM: Measure.GLUCOSE_RANDOM,
    LOINC_GLUCOSE_BLOOD: Measure.GLUCOSE_RANDOM,
    LOINC_BMI: Measure.BMI,
    LOINC_BODY_WEIGHT: Measure.BODY_WEIGHT,
    LOINC_BODY_HEIGHT: Measure.BODY_HEIGHT,
    LOINC_WAIST: Measure.WAIST_CIRCUMFERENCE,
    LOINC_HDL: Measure.HDL_CHOLESTEROL,
    LOINC_TOTAL_CHOLESTEROL: Measure.TOTAL_CHOLESTEROL,
    LOINC_TRIGLYCERIDES: Measure.TRIGLYCERIDES,
    LOINC_LDL: Measure.LDL_CHOLESTEROL,
    LOINC_LDL_DIRECT: Measure.LDL_CHOLESTEROL,
    LOINC_LDL_CALCULATED: Measure.LDL_CHOLESTEROL,
}
BLOOD_PRESSURE_PANELS = frozenset({LOINC_BP_PANEL, LOINC_BP_PANEL_OLD})
BLOOD_PRESSURE_LOINCS = BLOOD_PRESSURE_PANELS | {LOINC_SYSTOLIC, LOINC_DIASTOLIC}

# Every LOINC code the risk services' observation queries ask for.
RISK_OBSERVATION_LOINCS: tuple[str, ...] = (
    *MEASURE_BY_LOINC,
    *sorted(BLOOD_PRESSURE_LOINCS),
    LOINC_SMOKING_STATUS,
)


class SmokingStatus(StrEnum):
    """Tobacco smoking status, as the models use it."""

    CURRENT = "current"
    FORMER = "former"
    NEVER = "never"
    UNKNOWN = "unknown"


SMOKING_STATUS_BY_SNOMED: dict[str, SmokingStatus] = {
    "449868002": SmokingStatus.CURRENT,  # smokes tobacco daily
    "428041000124106": SmokingStatus.CURRENT,  # occasional tobacco smoker
    "77176002": SmokingStatus.CURRENT,  # smoker
    "428071000124103": SmokingStatus.CURRENT,  # heavy tobacco smoker
    "428061000124105": SmokingStatus.CURRENT,  # light tobacco smoker
    "8517006": SmokingStatus.FORMER,  # ex-smoker
    "266919005": SmokingStatus.NEVER,  # never smoked tobacco
    "266927001": SmokingStatus.UNKNOWN,  # tobacco smoking consumption unknown
}


class ConditionKind(StrEnum):
    """The conditions the services look for on the problem list."""

    DIABETES = "diabetes"
    PREDIABETES = "prediabetes"
    GESTATIONAL_DIABETES = "gestational-diabetes"
    HYPERTENSION = "hypertension"
    # Only a current pregnancy matters: outside every model's population, ACOG's thresholds.
    PREGNANCY = "pregnancy"


CONDITION_BY_SNOMED: dict[str, ConditionKind] = {
    "73211009": ConditionKind.DIABETES,  # diabetes mellitus
    "44054006": ConditionKind.DIABETES,  # type 2 diabetes mellitus
    "46635009": ConditionKind.DIABETES,  # type 1 diabetes mellitus
    "714628002": ConditionKind.PREDIABETES,  # prediabetes
    "15777000": ConditionKind.PREDIABETES,  # prediabetes
    "11687002": ConditionKind.GESTATIONAL_DIABETES,  # gestational diabetes mellitus
    "38341003": ConditionKind.HYPERTENSION,  # hypertensive disorder
    "59621000": ConditionKind.HYPERTENSION,  # essential hypertension
    "77386006": ConditionKind.PREGNANCY,  # pregnancy (patient currently pregnant)
    "72892002": ConditionKind.PREGNANCY,  # normal pregnancy (Synthea's code)
}

# ICD-10-CM by code prefix, most specific first: O24.4 (gestational) sits inside O24.
ICD10_PREFIXES: tuple[tuple[str, ConditionKind], ...] = (
    ("O24.4", ConditionKind.GESTATIONAL_DIABETES),
    ("O24", ConditionKind.DIABETES),
    *((f"E{n:02d}", ConditionKind.DIABETES) for n in range(8, 14)),
    ("R73.01", ConditionKind.PREDIABETES),  # impaired fasting glucose
    ("R73.02", ConditionKind.PREDIABETES),  # impaired glucose tolerance
    ("R73.03", ConditionKind.PREDIABETES),
    *((f"I{n}", ConditionKind.HYPERTENSION) for n in range(10, 17)),
    ("Z33.1", ConditionKind.PREGNANCY),  # pregnant state (not Z33.2, elective termination)
    ("Z34", ConditionKind.PREGNANCY),  # supervision of normal pregnancy
    ("O09", ConditionKind.PREGNANCY),  # supervision of high-risk pregnancy
)

# "Family history of ..." findings recorded as a Condition or Observation of the patient.
FAMILY_HISTORY_FINDINGS: dict[str, ConditionKind] = {
    "160303001": ConditionKind.DIABETES,
    "160357008": ConditionKind.HYPERTENSION,
}


class Kinship(StrEnum):
    """How close the relative is, as the risk scores weigh it."""

    PARENT = "parent"
    SIBLING = "sibling"
    CHILD = "child"
    SECOND_DEGREE = "second-degree"
    UNSTATED = "unstated"


KINSHIP_BY_ROLE_CODE: dict[str, Kinship] = {
    **dict.fromkeys(("MTH", "FTH", "PRN", "NMTH", "NFTH", "NPRN"), Kinship.PARENT),
    **dict.fromkeys(("SIB", "BRO", "SIS", "NSIB", "NBRO", "NSIS", "TWIN"), Kinship.SIBLING),
    **dict.fromkeys(("CHILD", "SON", "DAU", "NCHILD"), Kinship.CHILD),
    **dict.fromkeys(
        ("GRPRN", "GRMTH", "GRFTH", "MGRMTH", "MGRFTH", "PGRMTH", "PGRFTH", "AUNT", "UNCLE"),
        Kinship.SECOND_DEGREE,
    ),
    **dict.fromkeys(("MAUNT", "PAUNT", "MUNCLE", "PUNCLE", "HSIB", "HBRO", "HSIS", "GRNDCHILD"),
                    Kinship.SECOND_DEGREE),
}  # fmt: skip


class DrugClass(StrEnum):
    """Medication classes the services care about."""

    ANTIDIABETIC = "antidiabetic"  # ATC A10
    ANTIHYPERTENSIVE = "antihypertensive"  # ATC C02, C03, C07, C08, C09


# Ingredient names as they appear in RxNorm displays, by class. Lower case.
INGREDIENTS: dict[DrugClass, tuple[str, ...]] = {
    DrugClass.ANTIDIABETIC: (
        "metformin", "glipizide", "glyburide", "glimepiride", "gliclazide", "pioglitazone",
        "rosiglitazone", "sitagliptin", "saxagliptin", "linagliptin", "alogliptin",
        "empagliflozin", "dapagliflozin", "canagliflozin", "ertugliflozin", "liraglutide",
        "semaglutide", "dulaglutide", "exenatide", "tirzepatide", "acarbose", "repaglinide",
        "nateglinide", "insulin",
    ),
    DrugClass.ANTIHYPERTENSIVE: (
        # C09 ACE inhibitors and angiotensin receptor blockers
        "lisinopril", "enalapril", "ramipril", "benazepril", "captopril", "quinapril",
        "fosinopril", "perindopril", "losartan", "valsartan", "irbesartan", "olmesartan",
        "candesartan", "telmisartan", "azilsartan", "sacubitril",
        # C08 calcium channel blockers
        "amlodipine", "nifedipine", "felodipine", "diltiazem", "verapamil", "nicardipine",
        # C07 beta blockers
        "metoprolol", "atenolol", "carvedilol", "bisoprolol", "propranolol", "nebivolol",
        "labetalol",
        # C03 diuretics
        "hydrochlorothiazide", "chlorthalidone", "indapamide", "furosemide", "torsemide",
        "bumetanide", "spironolactone", "eplerenone", "triamterene", "amiloride",
        # C02 centrally acting and other
        "clonidine", "methyldopa", "hydralazine", "minoxidil", "doxazosin", "prazosin",
        "terazosin",
    ),
}  # fmt: skip
