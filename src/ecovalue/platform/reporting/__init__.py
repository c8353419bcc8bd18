"""Department data reporting (统计报表): submissions, review, approved data for runs."""
