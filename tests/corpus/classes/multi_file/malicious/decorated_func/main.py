import jobs
jobs.task()
