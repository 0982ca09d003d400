"""The clinical cut-offs every part of the service reads, each with the guideline it comes from.

One home: the models' labels, the cards' rules, the SMART page's bands and training all import
these, so a guideline change is one edit here.
"""

from __future__ import annotations

# ADA Standards of Care (2025), section 2: HbA1c 5.7-6.4 % is prediabetes, >= 6.5 % diabetes.
HBA1C_DYSGLYCEMIA = 5.7
HBA1C_DIABETES = 6.5
