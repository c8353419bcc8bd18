// Runs page: live progress of background accounting jobs arrives with the jobs API (issue 23).
