"""The admin side: configuration while running, feedback summary, audit log, the admin page."""
