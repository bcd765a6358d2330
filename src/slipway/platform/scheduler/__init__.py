"""Heroku Scheduler: jobs of an app's `scheduler` add-on, run as `scheduler.N` one-off dynos.

- `schedules.py`: pure: frequencies and cron expressions, the next run.
- `jobs.py`: the use cases (list, add, remove, run now) and what the ticker runs.
"""
