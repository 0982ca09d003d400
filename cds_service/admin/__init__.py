"""The admin side's logic: the managed configuration's changes, admin access and throttling.

Its page and JSON API are views in `cds_service.web` (`admin_page`, `admin_api`).
"""
