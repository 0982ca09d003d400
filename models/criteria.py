"""The clinical criteria every part of the service reads: one home, each with its source.

The models' labels and refusals, the cards' rules and the cut-offs their wording states, the
SMART page's bands and categories, and training's populations all import these, so a change
of guideline is one edit here. A cut-off is the lowest value of the category it names (an
HbA1c of 6.5 % is in the diabetes range); a limit that is not reached says so (`..._BELOW`).

Standard library only: the runtime and training import it alike.
"""

from __future__ import annotations

from enum import IntEnum

# Glycaemia: ADA Standards of Care in Diabetes (2025), section 2, "Diagnosis and
# Classification". Dysglycemia is prediabetes or diabetes.
# HbA1c (NGSP %): 5.7-6.4 prediabetes, 6.5 or more diabetes.
HBA1C_DYSGLYCEMIA = 5.7
HBA1C_DIABETES = 6.5
# Fasting plasma glucose (mg/dL): 100-125 impaired fasting glucose (prediabetes), 126 or more
# diabetes.
FASTING_GLUCOSE_DYSGLYCEMIA = 100.0
FASTING_GLUCOSE_DIABETES = 126.0
# A random plasma glucose of 200 or more is diabetes only in a patient with classic symptoms of
# hyperglycaemia (polyuria, polydipsia, weight loss) or a hyperglycaemic crisis; without them it
# calls for a confirmatory test.
RANDOM_GLUCOSE_DIABETES = 200.0
# Without unequivocal hyperglycaemia, a diagnosis needs two abnormal results (HbA1c >= 6.5,
# fasting glucose >= 126, 2-h OGTT glucose >= 200) from the same sample or two separate samples.
DIABETES_CONFIRMING_RESULTS = 2
# A glucose whose fasting status the laboratory code does not state (LOINC 2345-7 serum/plasma,
# 2339-0 blood) is not a fasting glucose: one at or above the fasting diabetes cut-off is abnormal
# if the patient was fasting and calls for a fasting glucose or an HbA1c, not a diagnosis (ADA
# criteria are by test; the cards' own reading, stated on the card).
UNKNOWN_FASTING_GLUCOSE_ABNORMAL = FASTING_GLUCOSE_DIABETES
# People with prediabetes are tested (HbA1c or glucose) every year.
PREDIABETES_RETEST_YEARS = 1
# USPSTF (2021) screening for prediabetes and type 2 diabetes: every 3 years when normal, so an
# HbA1c older than this no longer answers whether the patient has dysglycemia today.
DIABETES_RESCREEN_YEARS = 3
# Who is screened. USPSTF (2021): adults aged 35 to 70 with overweight or obesity (BMI 25 or
# more), and those found to have prediabetes are offered or referred to preventive interventions.
# ADA 2025 s.2: everyone from 35 (no upper age), and adults with overweight or obesity with one
# or more risk factors at any age (first-degree relative with diabetes, hypertension 130/80 or
# more or on therapy, HDL below 35 mg/dL or triglycerides above 250 mg/dL, a history of
# gestational diabetes, cardiovascular disease, PCOS, physical inactivity, high-risk ethnicity).
USPSTF_SCREENING_MIN_AGE, USPSTF_SCREENING_MAX_AGE = 35, 70
ADA_SCREENING_AGE = 35
ADA_RISK_HDL_BELOW = 35.0
ADA_RISK_TRIGLYCERIDES_ABOVE = 250.0

# Blood pressure (mmHg): ACC/AHA 2017 adult categories. Normal < 120 and < 80; elevated
# 120-129 and < 80; stage 1 hypertension 130-139 or 80-89; stage 2 140 or more, or 90 or more.
ELEVATED_SYSTOLIC = 120.0
STAGE1_SYSTOLIC, STAGE1_DIASTOLIC = 130.0, 80.0
STAGE2_SYSTOLIC, STAGE2_DIASTOLIC = 140.0, 90.0
# "130/80", the threshold of hypertension as cards and pages write it.
STAGE1_PRESSURE_TEXT = f"{STAGE1_SYSTOLIC:g}/{STAGE1_DIASTOLIC:g}"
# ACC/AHA 2017: a diagnosis rests on the mean of readings taken on two or more occasions.
BLOOD_PRESSURE_OCCASIONS = 2
# ACC/AHA 2017: the goal of treatment for most adults is below 130/80, so a mean of 130 systolic
# or 80 diastolic or more on an antihypertensive is above goal.
TREATED_GOAL_SYSTOLIC, TREATED_GOAL_DIASTOLIC = 130.0, 80.0
TREATED_GOAL_TEXT = f"{TREATED_GOAL_SYSTOLIC:g}/{TREATED_GOAL_DIASTOLIC:g}"
# The same goal holds for diagnosed hypertension, treated or not (ACC/AHA 2017, section 8.1.5:
# "a BP target of less than 130/80 mm Hg is recommended" for adults with confirmed hypertension).
# Readings taken before treatment began say nothing of the treatment: the mean on treatment
# starts at the earliest known start of the current antihypertensives. When no start is
# recorded, the last 3 months' readings stand for it: ACC/AHA 2017 (section 8.3.1) reassesses
# monthly after starting or changing treatment until the goal is reached.
TREATED_READINGS_MONTHS_WHEN_START_UNKNOWN = 3
# Older readings (issue 16, item 14): readings older than the 12-month window are still shown
# as evidence, the newest this many of them, from the last 10 years (the span of the detail
# page's trends; a service choice, not a guideline's) and taken in adulthood (18 and over), since
# a child's reading is not read by the adult categories (AAP 2017).
EARLIER_READINGS_SHOWN = 5
EARLIER_READINGS_YEARS = 10


def above_treated_goal(systolic: float, diastolic: float) -> bool:
    """Whether a pressure on treatment is at or above the 130/80 goal (ACC/AHA 2017)."""
    return systolic >= TREATED_GOAL_SYSTOLIC or diastolic >= TREATED_GOAL_DIASTOLIC


class BloodPressureCategory(IntEnum):
    """The ACC/AHA 2017 adult categories, in order of severity."""

    NORMAL = 0
    ELEVATED = 1
    STAGE_1 = 2
    STAGE_2 = 3

    @property
    def hypertension_stage(self) -> int:
        """0 below stage 1 (normal or elevated), otherwise 1 or 2."""
        return {BloodPressureCategory.STAGE_1: 1, BloodPressureCategory.STAGE_2: 2}.get(self, 0)


def blood_pressure_category(systolic: float, diastolic: float) -> BloodPressureCategory:
    """The category of a pressure: the higher of its systolic's and its diastolic's."""
    if systolic >= STAGE2_SYSTOLIC or diastolic >= STAGE2_DIASTOLIC:
        return BloodPressureCategory.STAGE_2
    if systolic >= STAGE1_SYSTOLIC or diastolic >= STAGE1_DIASTOLIC:
        return BloodPressureCategory.STAGE_1
    # Elevated is systolic alone: a diastolic of 80 or more is stage 1 already.
    if systolic >= ELEVATED_SYSTOLIC:
        return BloodPressureCategory.ELEVATED
    return BloodPressureCategory.NORMAL


# Home blood pressure: ACC/AHA 2017, section 4.2. Table 11 gives the home values that
# correspond to office ones: office 120/80 = home 120/80; 130/80 = home 130/80; 140/90 = home
# 135/85 (and 160/100 = home 145/90). White-coat hypertension is an office mean of 130/80 or
# more with a home mean below 130/80; masked hypertension an office mean below 130/80 with a
# home mean of 130/80 or more (Figure 2); on treatment the same discordances are the
# "white-coat effect" and "masked uncontrolled hypertension" (Figure 3).
HOME_ELEVATED_SYSTOLIC = 120.0
HOME_STAGE1_SYSTOLIC, HOME_STAGE1_DIASTOLIC = 130.0, 80.0
HOME_STAGE2_SYSTOLIC, HOME_STAGE2_DIASTOLIC = 135.0, 85.0
# Table 12, the home monitoring protocol: at least 2 readings 1 minute apart each morning and
# each evening, over (up to) a week, and the average of them is what is read.
HOME_SERIES_DAYS = 7
# The least a series must hold to be read: readings on 3 days, 12 in all, mornings and
# evenings (ESH practice guidelines for home BP monitoring, Parati et al., J Hum Hypertens
# 2010;24:779-785: at least 3 days, preferably 7, the first day discarded). A reading before
# noon is a morning one, from noon an evening one.
HOME_SERIES_MIN_DAYS = 3
HOME_SERIES_MIN_READINGS = 12
HOME_EVENING_FROM_HOUR = 12


def home_blood_pressure_category(systolic: float, diastolic: float) -> BloodPressureCategory:
    """The office category a home mean corresponds to (ACC/AHA 2017, Table 11)."""
    if systolic >= HOME_STAGE2_SYSTOLIC or diastolic >= HOME_STAGE2_DIASTOLIC:
        return BloodPressureCategory.STAGE_2
    if systolic >= HOME_STAGE1_SYSTOLIC or diastolic >= HOME_STAGE1_DIASTOLIC:
        return BloodPressureCategory.STAGE_1
    if systolic >= HOME_ELEVATED_SYSTOLIC:
        return BloodPressureCategory.ELEVATED
    return BloodPressureCategory.NORMAL


# Pregnancy: ACOG Practice Bulletin 222 (2020), "Gestational Hypertension and Preeclampsia".
# Gestational hypertension is a new systolic of 140 or more or diastolic of 90 or more on two
# occasions at least 4 hours apart after 20 weeks; 160 or more or 110 or more is the severe
# range (treated within 30-60 minutes). HbA1c is unreliable in pregnancy (ADA 2025, section 2).
PREGNANCY_HYPERTENSION_SYSTOLIC, PREGNANCY_HYPERTENSION_DIASTOLIC = 140.0, 90.0
PREGNANCY_SEVERE_SYSTOLIC, PREGNANCY_SEVERE_DIASTOLIC = 160.0, 110.0
PREGNANCY_OCCASIONS_HOURS_APART = 4
# Post-term begins at 42 weeks (ACOG): a pregnancy still "active" with an onset longer ago than
# this is an out-of-date record, and readings older than this are not from this pregnancy.
PREGNANCY_MAX_WEEKS = 42
# Gestational hypertension and preeclampsia arise after 20 weeks (ACOG PB 222): a pregnancy
# that ended sooner is not a delivery after which postpartum preeclampsia is looked for.
PREECLAMPSIA_FROM_WEEKS = 20
# Postpartum: hypertension and preeclampsia can first appear after delivery, most within the
# first days and up to 6 weeks (ACOG PB 222; ACOG Committee Opinion 736, "Optimizing Postpartum
# Care", 2018: blood pressure evaluation within the postpartum period). Within this many weeks
# of a delivery a reading is read against the pregnancy thresholds above (140/90; 160/110
# severe, treated within 30-60 minutes postpartum too), not the adult categories.
POSTPARTUM_WEEKS = 6

# BMI (kg/m2): WHO adult categories (WHO Technical Report Series 894, 2000). Underweight
# < 18.5; normal ("healthy") 18.5-24.9; overweight 25-29.9; obesity 30 or more.
BMI_HEALTHY = 18.5
BMI_OVERWEIGHT = 25.0
BMI_OBESITY = 30.0

# Adults are 18 and over: the age the ACC/AHA 2017 adult categories and the learned models'
# population (NHANES 2017-18 adults) start from.
ADULT_AGE = 18
# Children and adolescents: AAP 2017 Clinical Practice Guideline (Flynn et al., Pediatrics
# 2017;140:e20171904). From 13 its categories are the adult numbers (elevated 120-129 and < 80,
# stage 1 130-139 or 80-89, stage 2 140 or more or 90 or more), so `blood_pressure_category`
# serves ages 13-17 too; under 13 they are percentiles for age, sex and height, which the
# service does not have: it names no category for a younger child, only whether a reading is
# at or above the guideline's screening value for age and sex (below).
ADOLESCENT_AGE = 13
# AAP 2017 (section 4.3, Table 11): hypertension is diagnosed when readings are in
# the hypertensive range on 3 separate visits, not the adults' 2 occasions.
ADOLESCENT_HYPERTENSION_VISITS = 3
# AAP 2017, Table 4 (section 3.2), "Screening BP Values Requiring Further Evaluation": for ages
# 1-12, by sex, the systolic and diastolic values (mmHg; the 90th percentile at the 5th height
# percentile) at or above which a reading needs evaluation against the full percentile tables for
# age, sex and height. A screening value, not a category: at or above it the child may still be
# normal by percentile, so a card never calls it a stage. From 13 the table's value is 120/80.
AAP_SCREENING_VALUES: dict[int, dict[str, tuple[float, float]]] = {
    age: {"male": (boys_sbp, boys_dbp), "female": (girls_sbp, girls_dbp)}
    for age, boys_sbp, boys_dbp, girls_sbp, girls_dbp in (
        (1, 98, 52, 98, 54),
        (2, 100, 55, 101, 58),
        (3, 101, 58, 102, 60),
        (4, 102, 60, 103, 62),
        (5, 103, 63, 104, 64),
        (6, 105, 66, 105, 67),
        (7, 106, 68, 106, 68),
        (8, 107, 69, 107, 69),
        (9, 107, 70, 108, 71),
        (10, 108, 72, 109, 72),
        (11, 110, 74, 111, 74),
        (12, 113, 75, 114, 75),
    )
}


def aap_screening_value(age: int, sex: str) -> tuple[float, float] | None:
    """AAP 2017's screening value (systolic, diastolic) for a child of 1-12 of this sex
    ("male" or "female"), or None where the table has none."""
    return AAP_SCREENING_VALUES.get(age, {}).get(sex)


# NHANES 2017-18 records every age of 80 and over as 80 (top-coding): the learned models saw
# no exact age above it, only "80", which stands for everyone 80 and over. An older patient's
# age is given to them as 80, as NHANES would have recorded it (`features.feature_vector`),
# and the cards say so.
NHANES_TOP_CODED_AGE = 80

# Framingham hypertension equation (Parikh et al., Ann Intern Med 2008;148:102-110), used where
# the Framingham Heart Study's calculator allows it: ages 20-80 (inclusive) without
# hypertension as the study defined it (140/90 or more), so systolic below 140 and diastolic
# below 90. Derived in ages 20-69.
PARIKH_MIN_AGE, PARIKH_MAX_AGE = 20, 80
PARIKH_SYSTOLIC_BELOW = 140.0
PARIKH_DIASTOLIC_BELOW = 90.0
