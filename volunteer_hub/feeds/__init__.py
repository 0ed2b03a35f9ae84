"""Private calendar feeds (iCalendar) of confirmed tasks and on-call duty."""
