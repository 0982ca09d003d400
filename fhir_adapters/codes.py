"""The codes and value sets the adapter reads, named in clinical terms.

Sources: LOINC and SNOMED CT codes as listed in `shared/reference/clinical.md`. Diagnoses and
medications are recognised by published value sets (CMS eCQM value sets from NLM's VSAC), kept as
data files in `fhir_adapters/value_sets/` with their OID, version and source (docs/codes.md), and
by ICD-10-CM's hierarchy (categories below). An RxNorm code names a product; its ingredients come
from the value-set data and their class from `INGREDIENT_CLASSES` here, with the ingredient's
name in the coding display or text (word-bounded) as the fallback the reference recommends.
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


# Which codes mean each kind: the published value sets and the local additions are data files in
# fhir_adapters/value_sets/ (their source, OID and expansion in each file; docs/codes.md), read
# once by `value_sets.load_vocabulary`. What a value set's expansion cannot say is here.

# ICD-10-CM by its hierarchy. An ICD-10-CM code's ancestors are its prefixes (E11.21 sits under
# E11.2 under E11), so a code that no expansion lists (a category such as "E11" sent as a
# diagnosis, or a code newer than the expansion) takes the kind of its nearest category here:
# a dict lookup per prefix length. Only categories whose every descendant is of the kind are
# listed: O10-O16 and O24 also hold childbirth and puerperium codes, so those count as a
# pregnancy only through the Pregnancy value set's own codes. The prefix rule is exact for
# ICD-10-CM, so no ICD-10-CM package is needed at run time: simple-icd-10-cm 1.5.0 (MIT) would
# parse a 9.7 MB XML on import (1.8 s and ~180 MB per process, measured) for what a prefix says.
ICD10_CM_CATEGORIES: dict[str, ConditionKind] = {
    # E08 due to an underlying condition, E09 drug-induced, E10 type 1, E11 type 2, E13 other.
    **dict.fromkeys(("E08", "E09", "E10", "E11", "E13"), ConditionKind.DIABETES),
    # Pre-existing diabetes in pregnancy, childbirth or the puerperium (not O24.9, unspecified).
    **dict.fromkeys(("O24.0", "O24.1", "O24.3", "O24.8"), ConditionKind.DIABETES),
    "O24.4": ConditionKind.GESTATIONAL_DIABETES,
    # Impaired fasting glucose, impaired glucose tolerance, prediabetes.
    **dict.fromkeys(("R73.01", "R73.02", "R73.03"), ConditionKind.PREDIABETES),
    # Essential, hypertensive heart and/or kidney disease, secondary, crisis; pre-existing
    # hypertension in pregnancy, childbirth or the puerperium, with or without pre-eclampsia.
    **dict.fromkeys(("I10", "I11", "I12", "I13", "I15", "I16", "O10", "O11"),
                    ConditionKind.HYPERTENSION),
    # Pregnant state (not Z33.2, elective termination), normal and high-risk supervision.
    **dict.fromkeys(("Z33.1", "Z34", "O09"), ConditionKind.PREGNANCY),
}  # fmt: skip

# WHO ICD-10 (not the US clinical modification), by category; no value set lists it.
ICD10_WHO_CATEGORIES: dict[str, ConditionKind] = {
    **dict.fromkeys(("E10", "E11", "E12", "E13", "E14"), ConditionKind.DIABETES),
    "O24.4": ConditionKind.GESTATIONAL_DIABETES,
    **dict.fromkeys(("I10", "I11", "I12", "I13", "I15"), ConditionKind.HYPERTENSION),
    **dict.fromkeys(("Z33", "Z34", "Z35"), ConditionKind.PREGNANCY),
}  # fmt: skip

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

    ANTIDIABETIC = "antidiabetic"  # glucose-lowering, ATC A10
    ANTIHYPERTENSIVE = "antihypertensive"  # ATC C02, C03, C07, C08, C09
    # Lowers blood pressure, but is as often prescribed for something else (a beta blocker for
    # migraine or angina, furosemide for oedema, spironolactone for acne or heart failure,
    # clonidine or guanfacine for ADHD, an alpha blocker for the prostate): antihypertensive
    # treatment only where a hypertension diagnosis is on record (`as_treatment`).
    BLOOD_PRESSURE_LOWERING_OTHER_USE = "blood-pressure-lowering-other-use"
    # Metformin alone where prediabetes, not diabetes, is on the record: prediabetes treatment
    # (ADA 2025 section 3 advises considering it), so not a sign of diabetes (`for_prediabetes`).
    PREDIABETES_TREATMENT = "prediabetes-treatment"


# A glucose-lowering ingredient that, alone, is also given for prediabetes (ADA 2025 s.3).
PREDIABETES_INGREDIENTS = frozenset({"metformin"})


# Ingredients as RxNorm names them (lower case, salt left off), with their class and
# pharmacological group (ACC/AHA 2017's oral antihypertensive drugs; ADA Standards of Care 2025
# s.9's glucose-lowering agents). Counted as treatment by themselves: the groups ACC/AHA 2017
# calls primary agents for hypertension, and drugs licensed for little else.
_HTN, _OTHER, _DM = (
    DrugClass.ANTIHYPERTENSIVE,
    DrugClass.BLOOD_PRESSURE_LOWERING_OTHER_USE,
    DrugClass.ANTIDIABETIC,
)
_GROUPS: tuple[tuple[DrugClass, str, tuple[str, ...]], ...] = (
    (_HTN, "ACE inhibitor", ("benazepril", "captopril", "enalapril", "enalaprilat", "fosinopril",
                             "lisinopril", "moexipril", "perindopril", "quinapril", "ramipril",
                             "trandolapril")),
    (_HTN, "angiotensin receptor blocker", ("azilsartan", "candesartan", "eprosartan", "irbesartan",
                                            "losartan", "olmesartan", "telmisartan", "valsartan")),
    (_HTN, "direct renin inhibitor", ("aliskiren",)),
    (_HTN, "dihydropyridine calcium channel blocker", ("amlodipine", "levamlodipine", "felodipine",
                                                       "isradipine", "nicardipine", "nifedipine",
                                                       "nisoldipine", "clevidipine")),
    (_HTN, "thiazide or thiazide-like diuretic", ("hydrochlorothiazide", "chlorthalidone",
                                                  "chlorothiazide", "indapamide", "metolazone",
                                                  "methyclothiazide", "bendroflumethiazide")),
    # Licensed and used for hypertension (labetalol and methyldopa in pregnancy above all).
    (_HTN, "beta blocker used for hypertension", ("labetalol", "nebivolol")),
    (_HTN, "central alpha agonist", ("methyldopa",)),
    (_HTN, "direct vasodilator", ("hydralazine",)),
    # Prescribed at least as often for angina, heart failure, arrhythmia (rate control),
    # migraine, tremor, anxiety, glaucoma or varices as for hypertension.
    (_OTHER, "beta blocker", ("acebutolol", "atenolol", "betaxolol", "bisoprolol", "carvedilol",
                              "metoprolol", "nadolol", "pindolol", "propranolol", "timolol")),
    (_OTHER, "non-dihydropyridine calcium channel blocker", ("diltiazem", "verapamil")),
    (_OTHER, "loop diuretic", ("bumetanide", "furosemide", "torsemide")),  # oedema, heart failure
    # Heart failure, hyperaldosteronism, acne and hirsutism; finerenone for diabetic kidney disease.
    (_OTHER, "mineralocorticoid receptor antagonist", ("spironolactone", "eplerenone",
                                                       "finerenone")),
    (_OTHER, "potassium-sparing diuretic", ("amiloride", "triamterene")),
    (_OTHER, "alpha blocker", ("doxazosin", "prazosin", "terazosin")),  # prostate, nightmares
    (_OTHER, "central alpha agonist", ("clonidine", "guanfacine")),  # ADHD, withdrawal, flushes
    (_OTHER, "direct vasodilator", ("minoxidil",)),  # low-dose oral minoxidil for hair loss
    (_OTHER, "angiotensin receptor-neprilysin inhibitor", ("sacubitril",)),  # heart failure
    (_OTHER, "cerebral calcium channel blocker", ("nimodipine",)),  # subarachnoid haemorrhage
    (_DM, "biguanide", ("metformin",)),
    (_DM, "sulfonylurea", ("glipizide", "glyburide", "glimepiride", "gliclazide", "chlorpropamide",
                           "tolazamide", "tolbutamide")),
    (_DM, "thiazolidinedione", ("pioglitazone", "rosiglitazone")),
    (_DM, "DPP-4 inhibitor", ("sitagliptin", "saxagliptin", "linagliptin", "alogliptin")),
    (_DM, "SGLT2 inhibitor", ("empagliflozin", "dapagliflozin", "canagliflozin", "ertugliflozin",
                              "bexagliflozin", "sotagliflozin")),
    (_DM, "GLP-1 receptor agonist", ("liraglutide", "semaglutide", "dulaglutide", "exenatide",
                                     "lixisenatide", "albiglutide")),
    (_DM, "GIP and GLP-1 receptor agonist", ("tirzepatide",)),
    (_DM, "alpha-glucosidase inhibitor", ("acarbose", "miglitol")),
    (_DM, "meglitinide", ("repaglinide", "nateglinide")),
    (_DM, "amylin analogue", ("pramlintide",)),
    (_DM, "insulin", ("insulin",)),
)  # fmt: skip

# Each ingredient's class and group, by name (lower case).
INGREDIENT_CLASSES: dict[str, tuple[DrugClass, str]] = {
    name: (drug_class, group) for drug_class, group, names in _GROUPS for name in names
}

# With these, a product containing an antihypertensive is a heart-failure medicine
# (sacubitril/valsartan; isosorbide dinitrate/hydralazine): never treatment by itself.
HEART_FAILURE_PARTNERS = frozenset({"sacubitril", "isosorbide"})

# Dose forms that act on the skin, eye or ear: never antihypertensive or glucose-lowering
# treatment (topical minoxidil for hair loss, timolol eye drops for glaucoma).
NON_SYSTEMIC_FORM_WORDS = ("topical", "ophthalmic", "otic", "shampoo", "cutaneous", "eye drop",
                           "scalp")  # fmt: skip
