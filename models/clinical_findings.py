"""The findings the note summary looks for, each concept with the words notes use for it.

Written for this project from common primary-care and hospital problem lists; matched
case-insensitively as whole phrases by medspacy's target matcher, so abbreviations that are
also ordinary words or other headers ("PE" for physical exam, "MI", "AF", "mass") are left
out, and those that are words in lower case ("DOE", "CAP") are matched only in capitals
(`CAPITALS_ONLY`) or only beside words that make them safe (`GUARDED_ABBREVIATIONS`). A
concept's name is what the card's "problems mentioned" list shows.

The longest phrase wins, which is what keeps the kinds of diabetes apart: "gestational
diabetes", "diabetes insipidus", "type 1 diabetes" and "prediabetes" are their own concepts,
never diabetes mellitus or type 2 diabetes; "diabetes" alone is diabetes mellitus of no stated
type. Synthea writes problems as SNOMED display names ("diabetes mellitus type 2 (disorder)",
"chronic intractable migraine without aura (disorder)"); those names are here too.
"""

from __future__ import annotations

FINDINGS: dict[str, tuple[str, ...]] = {
    "type 2 diabetes": (
        "type 2 diabetes",
        "type 2 diabetes mellitus",
        "type II diabetes",
        "type II diabetes mellitus",
        "diabetes type 2",
        "diabetes mellitus type 2",
        "diabetes mellitus type II",
        "diabetes mellitus, type 2",
        "type 2 DM",
        "DM type 2",
        "DM 2",
        "DM II",
        "DM type II",
        "type II DM",
        "DMII",
        "non-insulin dependent diabetes",
        "non-insulin-dependent diabetes mellitus",
        "T2DM",
        "T2D",
        "DM2",
        "NIDDM",
    ),
    "type 1 diabetes": (
        "type 1 diabetes",
        "type 1 diabetes mellitus",
        "type I diabetes",
        "type I diabetes mellitus",
        "diabetes type 1",
        "diabetes mellitus type 1",
        "diabetes mellitus type I",
        "diabetes mellitus, type 1",
        "type 1 DM",
        "DM type 1",
        "DM 1",
        "DM1",
        "T1DM",
        "T1D",
        "IDDM",
        "juvenile diabetes",
    ),
    "diabetes": (
        "diabetes",
        "diabetes mellitus",
        "pre-gestational diabetes",
        "pregestational diabetes",
    ),
    "prediabetes": (
        "prediabetes",
        "pre-diabetes",
        "pre diabetes",
        "prediabetic",
        "pre-diabetic",
        "borderline diabetes",
        "impaired fasting glucose",
        "impaired glucose tolerance",
    ),
    "gestational diabetes": (
        "gestational diabetes",
        "gestational diabetes mellitus",
        "gestational DM",
        "GDM",
    ),
    "diabetes insipidus": (
        "diabetes insipidus",
        "central diabetes insipidus",
        "nephrogenic diabetes insipidus",
    ),
    "hypertension": ("hypertension", "HTN", "high blood pressure", "elevated blood pressure"),
    "chronic kidney disease": (
        "chronic kidney disease",
        "CKD",
        "CKD stage 3",
        "CKD stage 3a",
        "CKD stage 3b",
        "CKD stage 4",
        "renal insufficiency",
        "ESRD",
        "end-stage renal disease",
        "end stage renal disease",
        "diabetic kidney disease",
        "diabetic nephropathy",
    ),
    "heart failure": ("heart failure", "CHF", "HFrEF", "HFpEF", "congestive heart failure"),
    "coronary artery disease": (
        "coronary artery disease",
        "CAD",
        "ischemic heart disease",
        "coronary heart disease",
    ),
    "myocardial infarction": ("myocardial infarction", "heart attack", "NSTEMI", "STEMI"),
    "atrial fibrillation": ("atrial fibrillation", "afib", "a-fib", "a fib", "paroxysmal afib"),
    "stroke": ("stroke", "CVA", "cerebrovascular accident", "TIA"),
    "hyperlipidemia": (
        "hyperlipidemia",
        "HLD",
        "dyslipidemia",
        "high cholesterol",
        "hypercholesterolemia",
        "hypertriglyceridemia",
        "mixed hyperlipidemia",
    ),
    "obesity": ("obesity", "morbid obesity"),
    "COPD": (
        "COPD",
        "chronic obstructive pulmonary disease",
        "chronic obstructive lung disease",
        "chronic obstructive bronchitis",
        "emphysema",
    ),
    "asthma": ("asthma",),
    "pneumonia": ("pneumonia", "community-acquired pneumonia", "PNA"),
    "pneumothorax": ("pneumothorax",),
    "pleural effusion": ("pleural effusion", "effusion"),
    "pulmonary embolism": ("pulmonary embolism",),
    "deep vein thrombosis": ("deep vein thrombosis", "DVT"),
    "sepsis": ("sepsis", "septic shock"),
    "urinary tract infection": (
        "urinary tract infection",
        "urinary tract infectious disease",
        "UTI",
        "cystitis",
        "pyelonephritis",
    ),
    "cellulitis": ("cellulitis",),
    "COVID-19": ("COVID-19", "COVID", "SARS-CoV-2"),
    "anemia": ("anemia", "anaemia", "iron deficiency anemia"),
    "hypothyroidism": ("hypothyroidism",),
    "depression": ("depression", "major depressive disorder", "MDD"),
    "anxiety": ("anxiety", "generalized anxiety disorder"),
    "dementia": (
        "dementia",
        "cognitive impairment",
        "Alzheimer's disease",
        "Alzheimer disease",
        "Alzheimer's dementia",
    ),
    "osteoarthritis": ("osteoarthritis", "degenerative joint disease", "DJD"),
    "obstructive sleep apnea": ("obstructive sleep apnea", "OSA", "sleep apnea"),
    "GERD": (
        "GERD",
        "gastroesophageal reflux",
        "gastroesophageal reflux disease",
        "gastro-oesophageal reflux disease",
        "reflux",
    ),
    "cancer": ("cancer", "malignancy", "carcinoma", "malignant neoplasm"),
    "fracture": ("fracture", "fx"),
    "diabetic retinopathy": ("diabetic retinopathy", "retinopathy"),
    "neuropathy": ("neuropathy", "peripheral neuropathy", "diabetic neuropathy"),
    "migraine": (
        "migraine",
        "migraines",
        "migraine headache",
        "migraine headaches",
        "migraine with aura",
        "migraine without aura",
        "chronic migraine",
        "chronic intractable migraine without aura",
    ),
    "chest pain": ("chest pain", "chest pressure", "chest tightness"),
    "shortness of breath": (
        "shortness of breath",
        "short of breath",
        "dyspnea",
        "SOB",
        "dyspnoea",
    ),
    # The exertional phrases are their own concept, so "no SOB at rest; SOB on stairs" can deny
    # the one and not the other.
    "dyspnea on exertion": (
        "dyspnea on exertion",
        "dyspnoea on exertion",
        "exertional dyspnea",
        "exertional shortness of breath",
        "dyspnea with exertion",
        "shortness of breath on exertion",
        "shortness of breath with exertion",
        "short of breath on exertion",
        "short of breath with exertion",
        "SOB on exertion",
        "SOB with exertion",
        "SOBOE",
        "dyspnea on stairs",
        "dyspnea climbing stairs",
        "shortness of breath on stairs",
        "shortness of breath climbing stairs",
        "short of breath on stairs",
        "short of breath climbing stairs",
        "SOB on stairs",
        "SOB climbing stairs",
    ),
    "cough": ("cough",),
    "fever": ("fever", "febrile", "fevers"),
    "chills": ("chills", "chill", "rigors"),
    "headache": ("headache", "headaches"),
    "dizziness": ("dizziness", "lightheadedness", "vertigo"),
    "syncope": ("syncope", "fainting"),
    "palpitations": ("palpitations",),
    "nausea": ("nausea",),
    "vomiting": ("vomiting", "emesis"),
    "diarrhea": ("diarrhea", "diarrhoea"),
    "abdominal pain": ("abdominal pain", "abd pain"),
    "back pain": ("back pain", "low back pain", "chronic low back pain", "LBP"),
    "edema": ("edema", "oedema", "leg swelling", "peripheral edema"),
    "fatigue": ("fatigue", "tiredness"),
    "weight loss": ("weight loss", "wt loss", "unintentional weight loss"),
    "polyuria": ("polyuria",),
    "polydipsia": ("polydipsia",),
    "rash": ("rash",),
    "hypoglycemia": (
        "hypoglycemia",
        "hypoglycaemia",
        "hypoglycemic episode",
        "hypoglycemic episodes",
        "low blood sugar",
        "low blood sugars",
    ),
    "hyperkalemia": ("hyperkalemia", "hyperkalaemia", "hyperK"),
    "proteinuria": ("proteinuria", "albuminuria", "microalbuminuria"),
}
# Abbreviations that are words in lower case ("doe", "cap"): matched only as written here.
CAPITALS_ONLY: dict[str, tuple[str, ...]] = {
    "dyspnea on exertion": ("DOE",),
    "pneumonia": ("CAP",),
    "diabetes": ("DM",),
    "atrial fibrillation": ("PAF",),
}
# Abbreviations with another common meaning ("CP" is also cerebral palsy, "PE" a physical
# exam, "MI" also mitral insufficiency or Michigan): matched in capitals, and kept only when
# the words just before them (case-insensitive, a regex ending the text before the mention)
# or the text just after them say which meaning it is.
GUARDED_ABBREVIATIONS: dict[str, tuple[str, str, str]] = {
    "CP": (
        "chest pain",
        r"(?:\b(?:denies|denied|deny|no|any|c/o|complains of|complaining of|reports|reported|"
        r"endorses|with|of|for|atypical|typical|exertional|pleuritic|substernal|intermittent|"
        r"recurrent|new)|SOB\s*/|SOB,?\s+(?:or|and|nor))\s*$",
        r"^\s*(?:/\s*SOB|,?\s*(?:or|and|nor)\s+(?:SOB|shortness of breath|dyspnea|palpitations))",
    ),
    "PE": (
        "pulmonary embolism",
        r"(?:\b(?:r/o|rule out|ruled out for|no|h/o|hx of|history of|for|with|acute|bilateral|"
        r"saddle|segmental|subsegmental|provoked|unprovoked|concern for|suspected|suspicion for|"
        r"possible|evaluate for|probability of|prior|recent)|DVT\s*/)\s*$",
        r"^\s*(?:(?:is|was)\s+)?(?:unlikely|less likely|ruled out|excluded|protocol|/\s*DVT)",
    ),
    "MI": (
        "myocardial infarction",
        r"(?:\b(?:h/o|hx of|history of|prior|previous|old|recent|acute|remote|s/p|status post|"
        r"no|denies|rule out|r/o|ruled out for|post)|NSTEMI\s*/|STEMI\s*/)\s*$",
        r"^\s*(?:in\s+(?:19|20)\d\d|\d+\s+(?:years?|months?)\s+ago|with\s+stent)",
    ),
}
